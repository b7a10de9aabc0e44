package engineargs

// parseOne parses one --engine-arg value of the form "ENGINE: name=value, ...",
// where ENGINE must be one of engines. Errors are *Error.
func parseOne(value string, engines []string) (engine string, kw Kwargs, err error) {
	engine, kw, perr := parse(value, engines)
	if perr != nil { // not "return parse(...)": a nil *Error is a non-nil error
		return "", nil, perr
	}
	return engine, kw, nil
}

// Package engineargs parses --engine-arg values: Python keyword arguments
// for an engine constructor, such as
//
//	--engine-arg 'vllm: gpu_memory_utilization=0.85, max_num_seqs=256'
//
// They are parsed in pure Go with gpython's parser (a Python 3.4 grammar)
// before any interpreter or model loads, so a typo fails in milliseconds
// with the offending text, its column and a hint. Nothing is evaluated:
// like Python's ast.literal_eval, only literals are accepted.
//
// # Accepted values
//
// Strings (with the r and u prefixes, implicit concatenation and CPython's
// escapes), integers of any size (decimal, 0x, 0o, 0b), floats, True, False,
// None, lists, tuples (which become lists: JSON has no tuple), dicts with
// string keys, all nested, a sign on a number (-1, +0.5), and PEP 515
// underscores in numbers (8_192), which gpython's 3.4 lexer does not know and
// which are rewritten before parsing. Argument names must be ASCII Python
// identifiers that are not keywords, each given once per engine.
//
// Rejected, each with its own message: positional values, *args and **kw,
// bare names (dtype=bfloat16: "did you mean dtype="bfloat16"?"), attribute
// access, calls, operators, comprehensions, lambdas, conditionals,
// subscripts, sets, Ellipsis, complex numbers, floats that overflow to
// infinity, bytes literals, f-strings, \N{...} escapes (gpython does not
// decode them) and lone surrogates (not valid UTF-8), comments and
// backslash continuations.
//
// # Values
//
// Parsed values have these Go types, chosen so that the JSON they encode to
// (Kwargs.MarshalJSON) is read back by Python's json.loads as the same
// Python value:
//
//	str              string
//	int              int64, or json.Number (decimal digits) beyond int64
//	float            Float (JSON and text in Python's repr: 4.0, not 4)
//	True/False/None  bool / nil
//	list, tuple      []any
//	dict             Dict (ordered string keys)
package engineargs

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	// Only the parser is used: no gpython/stdlib import, which parsing does
	// not need and which would bring a VM with os.system and open.
	"github.com/go-python/gpython/ast"
	"github.com/go-python/gpython/parser"
	"github.com/go-python/gpython/py"
)

// ParseAll parses repeated --engine-arg values and merges them per engine,
// in the order given; an argument given twice for one engine, in one value
// or in two, is an error naming it. Errors are *Error.
func ParseAll(values []string, engines []string) (map[string]Kwargs, error) {
	out := map[string]Kwargs{}
	firstIn := map[string]map[string]string{} // engine -> key -> the value that gave it
	for _, v := range values {
		engine, kw, err := parse(v, engines)
		if err != nil {
			return nil, err
		}
		if firstIn[engine] == nil {
			firstIn[engine] = map[string]string{}
		}
		for _, p := range kw {
			if prev, dup := firstIn[engine][p.Key]; dup {
				off := keyOffset(v, p.Key)
				return nil, newError(v, off, p.Key, p.Key+" is given twice for "+engine,
					"it was first given in --engine-arg "+shellQuote(prev))
			}
			firstIn[engine][p.Key] = v
		}
		out[engine] = append(out[engine], kw...)
	}
	return out, nil
}

// keyOffset finds where argument key is written in v (which parsed without
// error, so a scan cannot fail).
func keyOffset(v, key string) int {
	from := strings.IndexByte(v, ':') + 1
	s, err := scan(v, from)
	if err != nil {
		return 0
	}
	for i, t := range s.toks {
		if t.kind == tkName && s.text(t) == key && i+1 < len(s.toks) && s.text(s.toks[i+1]) == "=" {
			return t.start
		}
	}
	return 0
}

var enginePrefix = regexp.MustCompile(`^\s*([A-Za-z0-9_.-]*)\s*(:?)`)

func parse(in string, engines []string) (string, Kwargs, *Error) {
	if !utf8.ValidString(in) {
		off := 0
		for off < len(in) {
			r, size := utf8.DecodeRuneInString(in[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return "", nil, newError(in, off, "", fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", in[off]), "the value must be UTF-8 text")
	}
	known := slices.Clone(engines)
	sort.Strings(known)
	example := "vllm"
	if len(known) > 0 {
		example = known[0]
	}
	knownList := "known engines: " + strings.Join(known, ", ")
	if len(known) == 0 {
		knownList = "no engines are known"
	}
	if strings.TrimSpace(in) == "" {
		return "", nil, newError(in, len(in), "", "empty value",
			"write ENGINE: name=value, e.g. "+example+": gpu_memory_utilization=0.85")
	}

	m := enginePrefix.FindStringSubmatchIndex(in)
	name, nameOff := in[m[2]:m[3]], m[2]
	if m[4] == m[5] { // no colon
		text := name
		if text == "" {
			text = in[nameOff:lineEnd(in, nameOff)]
		}
		if slices.Contains(known, name) {
			return "", nil, newError(in, nameOff, text, "missing : after the engine name", "write "+name+": name=value")
		}
		return "", nil, newError(in, nameOff, text, "missing engine name",
			"start with the engine and a colon, e.g. '"+example+": "+strings.TrimSpace(in)+"'; "+knownList)
	}
	if !slices.Contains(known, name) {
		hint := knownList
		for _, k := range known {
			if strings.EqualFold(k, name) {
				hint = "did you mean " + k + "?; " + knownList
			}
		}
		if name == "" {
			return "", nil, newError(in, nameOff, ":", "missing engine name before the colon", knownList)
		}
		return "", nil, newError(in, nameOff, name, "unknown engine", hint)
	}

	s, err := scan(in, m[1])
	if err != nil {
		return "", nil, err
	}
	if len(s.toks) == 0 {
		return "", nil, newError(in, len(in), "", "no arguments after "+name+":", "write "+name+": name=value")
	}
	if err := s.checkArgs(); err != nil {
		return "", nil, err
	}
	kw, err := s.parse()
	if err != nil {
		return "", nil, err
	}
	return name, kw, nil
}

var dashedName = regexp.MustCompile(`^-*[A-Za-z_][A-Za-z0-9_]*(-+[A-Za-z0-9_]+)+$`)

// checkArgs checks the top-level structure (name=value, separated by
// commas) before gpython sees it, which reports these mistakes only as
// "invalid syntax" after the fact.
func (s *scanner) checkArgs() *Error {
	var segs [][]token
	var commas []token
	var cur []token
	depth := 0
	for _, t := range s.toks {
		if t.kind == tkOp {
			switch s.text(t) {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case ",":
				if depth == 0 {
					segs, commas, cur = append(segs, cur), append(commas, t), nil
					continue
				}
			}
		}
		cur = append(cur, t)
	}
	segs = append(segs, cur)
	for i, seg := range segs {
		if len(seg) == 0 {
			if i == len(segs)-1 {
				continue // a trailing comma, as Python allows
			}
			return s.errorf(commas[i].start, ",", "empty argument", "remove the extra comma")
		}
		eq := -1
		depth := 0
		for k, t := range seg {
			if t.kind != tkOp {
				continue
			}
			switch op := s.text(t); op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case "=":
				if depth == 0 && eq < 0 {
					eq = k
				}
			}
		}
		if eq < 0 {
			continue // a positional value: reported with its AST node
		}
		if eq == 0 {
			return s.errorf(seg[0].start, "=", "missing argument name", "write name=value")
		}
		keyText := s.in[seg[0].start:seg[eq-1].end]
		valueText := "..."
		if eq+1 < len(seg) {
			valueText = s.in[seg[eq+1].start:seg[len(seg)-1].end]
		}
		if eq != 1 || seg[0].kind != tkName {
			hint := "argument names are Python identifiers, like max_num_seqs"
			if dashedName.MatchString(keyText) {
				hint = "did you mean " + strings.ReplaceAll(strings.TrimLeft(keyText, "-"), "-", "_") + "=" + valueText + "?"
			}
			return s.errorf(seg[0].start, keyText, "not a valid argument name", hint)
		}
		switch {
		case pythonKeywords[keyText]:
			return s.errorf(seg[0].start, keyText, "a Python keyword cannot be an argument name", "check the spelling of the argument name")
		case !isIdentifier(keyText):
			return s.errorf(seg[0].start, keyText, "argument names must be ASCII identifiers", "engine arguments have plain ASCII names, like max_num_seqs")
		case eq == len(seg)-1:
			return s.errorf(seg[0].start, s.in[seg[0].start:seg[eq].end], "missing value",
				"write a literal after =, e.g. "+keyText+"=1 or "+keyText+`="text"`)
		}
	}
	return nil
}

const (
	// literalsHint lists what values may be.
	literalsHint = "values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"
	// argsHint describes the whole form.
	argsHint = "arguments are name=value pairs separated by commas, with Python literals as values"
)

// wrapper surrounds the arguments so that gpython parses them as a call.
const wrapper = "f("

// parse runs gpython on the rewritten text and converts the call's keyword
// arguments to Kwargs.
func (s *scanner) parse() (Kwargs, *Error) {
	src := wrapper + string(s.out) + ")"
	tree, err := parser.ParseString(src, py.EvalMode)
	lineStarts := []int{0}
	for i := range len(src) {
		if src[i] == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	// off maps a gpython position (line from 1, byte column from 0 in src)
	// to a byte offset in the user's text: the rewrite kept every offset,
	// so only the wrapper has to be taken away.
	off := func(line, col int) int {
		if line < 1 || line > len(lineStarts) {
			return len(s.in)
		}
		return s.from + lineStarts[line-1] + col - len(wrapper)
	}
	if err != nil {
		return nil, s.syntaxError(err, off)
	}
	call := tree.(*ast.Expression).Body.(*ast.Call)
	w := &walker{s: s, off: func(p ast.Pos) int { return off(p.Lineno, p.ColOffset) }}

	// Visit arguments in the order they were written, so that the first
	// problem in the text is the one reported.
	type item struct {
		off  int
		node ast.Expr
		kw   *ast.Keyword
		star string
	}
	var items []item
	for _, a := range call.Args {
		items = append(items, item{off: w.nodeOff(a), node: a})
	}
	for _, k := range call.Keywords {
		items = append(items, item{off: w.off(k.Pos), kw: k})
	}
	if call.Starargs != nil {
		items = append(items, item{off: w.nodeOff(call.Starargs), node: call.Starargs, star: "*"})
	}
	if call.Kwargs != nil {
		items = append(items, item{off: w.nodeOff(call.Kwargs), node: call.Kwargs, star: "**"})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].off < items[j].off })

	kw := Kwargs{}
	seen := map[string]int{}
	for _, it := range items {
		switch {
		case it.star != "":
			start := it.off
			if i := s.tokenIndex(it.off); i > 0 && s.text(s.toks[i-1]) == it.star {
				start = s.toks[i-1].start
			}
			return nil, s.errorf(start, s.in[start:s.exprEnd(s.tokenIndex(it.off))],
				it.star+" unpacking is not allowed", "write each argument as name=value")
		case it.kw == nil:
			return nil, w.positional(it.node)
		default:
			name := string(it.kw.Arg)
			if prev, dup := seen[name]; dup {
				return nil, s.errorf(it.off, name, name+" is given twice",
					fmt.Sprintf("it was first given at column %d", newError(s.in, prev, "", "", "").Column))
			}
			seen[name] = it.off
			v, err := w.value(it.kw.Value, name)
			if err != nil {
				return nil, err
			}
			kw = append(kw, Pair{name, v})
		}
	}
	return kw, nil
}

// syntaxError rewords a gpython SyntaxError, which reports the end of the
// token where parsing failed and always says "unexpected EOF while parsing"
// for one-line input, and points at the token itself.
func (s *scanner) syntaxError(err error, off func(line, col int) int) *Error {
	line, col := 1, len(s.out)+len(wrapper)
	msg := "invalid syntax"
	if e, ok := err.(*py.Exception); ok {
		if l, ok := e.Dict["lineno"].(py.Int); ok {
			line = int(l)
		}
		if c, ok := e.Dict["offset"].(py.Int); ok {
			col = int(c)
		}
		if len(e.Args.(py.Tuple)) > 0 {
			if m, ok := e.Args.(py.Tuple)[0].(py.String); ok && m != "unexpected EOF while parsing" {
				msg = string(m)
			}
		}
	}
	at := off(line, col)
	if at >= len(s.in) {
		return s.errorf(len(s.in), "", "unexpected end of input", "the last argument is incomplete")
	}
	// The token that ends at (or contains) the reported position.
	ti := -1
	for i, t := range s.toks {
		if t.start < at && at <= t.end || t.start == at {
			ti = i
			break
		}
		if t.end <= at {
			ti = i
		}
	}
	if ti < 0 {
		return s.errorf(at, "", msg, argsHint)
	}
	t := s.toks[ti]
	hint := argsHint
	text := s.text(t)
	if ti > 0 {
		prev := s.toks[ti-1]
		switch {
		case text == ";":
			hint = "separate arguments with commas"
		case text == ":" && prev.kind == tkName:
			hint = "write " + s.text(prev) + "=value, not " + s.text(prev) + ": value"
		case endsValue(s, prev) && startsValue(s, t):
			hint = "missing comma?"
		}
	}
	return s.errorf(t.start, text, msg, hint)
}

func endsValue(s *scanner, t token) bool {
	return t.kind != tkOp || strings.Contains(")]}", s.text(t))
}

func startsValue(s *scanner, t token) bool {
	return t.kind != tkOp || strings.Contains("([{", s.text(t))
}

// walker converts literal AST nodes to Go values.
type walker struct {
	s   *scanner
	off func(ast.Pos) int
}

// positioned is implemented by every gpython expression node (via ast.Pos).
type positioned interface {
	GetLineno() int
	GetColOffset() int
}

// nodeOff returns the offset where e's source text starts. gpython gives
// trailers (attribute, call, subscript) the position of their '.', '(' or
// '[', and sets and dicts that of their first element, so those are
// corrected here.
func (w *walker) nodeOff(e ast.Expr) int {
	p := e.(positioned)
	at := w.off(ast.Pos{Lineno: p.GetLineno(), ColOffset: p.GetColOffset()})
	var left ast.Expr
	switch n := e.(type) {
	case *ast.Attribute:
		left = n.Value
	case *ast.Call:
		left = n.Func
	case *ast.Subscript:
		left = n.Value
	case *ast.BinOp:
		left = n.Left
	case *ast.Compare:
		left = n.Left
	case *ast.BoolOp:
		left = n.Values[0]
	case *ast.IfExp:
		left = n.Body
	case *ast.Set, *ast.Dict, *ast.SetComp, *ast.DictComp:
		if i := w.s.tokenIndex(at); i > 0 && w.s.text(w.s.toks[i-1]) == "{" {
			at = w.s.toks[i-1].start
		}
	}
	if left != nil {
		at = min(at, w.nodeOff(left))
	}
	return at
}

// fail reports node e, showing its source text.
func (w *walker) fail(e ast.Expr, msg, hint string) *Error {
	at := w.nodeOff(e)
	return w.s.errorf(at, w.s.exprText(at), msg, hint)
}

func (w *walker) positional(e ast.Expr) *Error {
	text := w.s.exprText(w.nodeOff(e))
	hint := "give it a name: name=" + text
	if c, ok := e.(*ast.Compare); ok && len(c.Ops) == 1 && c.Ops[0] == ast.Eq {
		if _, ok := c.Left.(*ast.Name); ok {
			hint = "use a single =: " + strings.Replace(text, "==", "=", 1)
		}
	}
	return w.fail(e, "positional values are not allowed; write name=value", hint)
}

// value converts a literal node; key is the argument name when e is the
// whole value of an argument, for hints.
func (w *walker) value(e ast.Expr, key string) (any, *Error) {
	switch n := e.(type) {
	case *ast.Str:
		return string(n.S), nil
	case *ast.Num:
		return w.number(n, false)
	case *ast.NameConstant:
		switch n.Value {
		case py.True:
			return true, nil
		case py.False:
			return false, nil
		}
		return nil, nil
	case *ast.UnaryOp:
		if n.Op == ast.USub || n.Op == ast.UAdd {
			if num, ok := n.Operand.(*ast.Num); ok {
				return w.number(num, n.Op == ast.USub)
			}
			return nil, w.fail(e, "operators are not allowed", "a sign is only allowed directly on a number")
		}
		return nil, w.fail(e, "operators are not allowed", "write the resulting value as a literal")
	case *ast.List:
		return w.list(n.Elts)
	case *ast.Tuple:
		return w.list(n.Elts)
	case *ast.Dict:
		return w.dict(n)
	case *ast.Name:
		return nil, w.fail(e, "a bare name is not a literal", didYouMean(string(n.Id), key))
	case *ast.Attribute:
		return nil, w.fail(e, "attribute access is not allowed", didYouMean(string(n.Attr), key))
	case *ast.Call:
		return nil, w.fail(e, "calls are not allowed", "nothing is evaluated; write the value itself as a literal")
	case *ast.BinOp, *ast.BoolOp, *ast.Compare:
		return nil, w.fail(e, "operators are not allowed", "write the resulting value as a literal")
	case *ast.Set:
		text := w.s.exprText(w.nodeOff(e))
		return nil, w.fail(e, "sets are not allowed", "write a list: ["+strings.TrimSuffix(strings.TrimPrefix(text, "{"), "}")+"]")
	case *ast.ListComp, *ast.SetComp, *ast.DictComp, *ast.GeneratorExp:
		return nil, w.fail(e, "comprehensions are not allowed", "write the items out")
	case *ast.Lambda:
		return nil, w.fail(e, "lambdas are not allowed", literalsHint)
	case *ast.IfExp:
		return nil, w.fail(e, "conditional expressions are not allowed", literalsHint)
	case *ast.Subscript:
		return nil, w.fail(e, "subscripts are not allowed", literalsHint)
	case *ast.Starred:
		return nil, w.fail(e, "unpacking is not allowed", "write the items out")
	case *ast.Ellipsis:
		return nil, w.fail(e, "Ellipsis is not allowed", literalsHint)
	case *ast.Bytes:
		return nil, w.fail(e, "bytes literals are not allowed", "write a str")
	default:
		return nil, w.fail(e, "not a literal", literalsHint)
	}
}

func (w *walker) number(n *ast.Num, negate bool) (any, *Error) {
	switch v := n.N.(type) {
	case py.Int:
		b := big.NewInt(int64(v))
		if negate {
			b.Neg(b)
		}
		return bigValue(b), nil
	case *py.BigInt:
		b := new(big.Int).Set((*big.Int)(v))
		if negate {
			b.Neg(b)
		}
		return bigValue(b), nil
	case py.Float:
		f := float64(v)
		if math.IsInf(f, 0) {
			return nil, w.fail(n, "the number is too large for a float", "JSON cannot carry infinity; use a smaller value")
		}
		if negate {
			f = -f
		}
		return Float(f), nil
	case py.Complex:
		return nil, w.fail(n, "complex numbers are not allowed", "JSON has no complex numbers; "+literalsHint)
	}
	return nil, w.fail(n, "not a literal", literalsHint)
}

func (w *walker) list(elts []ast.Expr) (any, *Error) {
	l := make([]any, 0, len(elts))
	for _, e := range elts {
		v, err := w.value(e, "")
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

func (w *walker) dict(n *ast.Dict) (any, *Error) {
	d := Dict{}
	seen := map[string]int{}
	for i, k := range n.Keys {
		ks, ok := k.(*ast.Str)
		if !ok {
			text := w.s.exprText(w.nodeOff(k))
			return nil, w.fail(k, "dict keys must be strings", `JSON objects only have string keys; write "`+strings.Trim(text, `"'`)+`"`)
		}
		key := string(ks.S)
		if prev, dup := seen[key]; dup {
			return nil, w.fail(k, "duplicate dict key", fmt.Sprintf("it was first given at column %d", newError(w.s.in, prev, "", "", "").Column))
		}
		seen[key] = w.nodeOff(k)
		v, err := w.value(n.Values[i], "")
		if err != nil {
			return nil, err
		}
		d = append(d, Pair{key, v})
	}
	return d, nil
}

// didYouMean suggests the string (or the Python constant) a bare name was
// probably meant to be.
func didYouMean(name, key string) string {
	lit := pyQuote(name)
	switch strings.ToLower(name) {
	case "true":
		lit = "True"
	case "false":
		lit = "False"
	case "null", "none", "nil":
		lit = "None"
	}
	if key != "" {
		return "did you mean " + key + "=" + lit + "?"
	}
	return "did you mean " + lit + "?"
}

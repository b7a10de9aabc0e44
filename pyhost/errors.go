package pyhost

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// PyError is a Python exception raised by a call into the embedded
// interpreter.
type PyError struct {
	// Type is the exception's qualified class name, e.g. "ValueError" or
	// "vllm.v1.engine.exceptions.EngineDeadError".
	Type string `json:"type"`
	// Message is str(exception).
	Message string `json:"message"`
	// Traceback is the formatted traceback, as Python's traceback module
	// prints it, ending with the exception line.
	Traceback string `json:"traceback"`
}

func (e *PyError) Error() string {
	if e.Message == "" {
		return "python: " + e.Type
	}
	return "python: " + e.Type + ": " + e.Message
}

// Is reports whether the Python exception is a KeyboardInterrupt, which is
// how an interrupted call surfaces, so errors.Is(err, ErrInterrupted) works.
func (e *PyError) Is(target error) bool {
	return target == ErrInterrupted && e.Type == "KeyboardInterrupt"
}

// TracebackTail returns the last n lines of the traceback.
func (e *PyError) TracebackTail(n int) string {
	lines := strings.Split(strings.TrimRight(e.Traceback, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ErrInterrupted is matched (errors.Is) by calls that were interrupted by a
// cancelled context.
var ErrInterrupted = errors.New("python call interrupted")

// ErrClosed is returned by calls on a host that was closed.
var ErrClosed = errors.New("python host is closed")

// StuckError reports a call that did not answer an interrupt: it is running
// native code (a C extension, a blocking system call) that Python cannot
// interrupt. The interpreter thread stays busy until that code returns; the
// only sure way out is to end the process.
type StuckError struct {
	Module, Function string
	Waited           time.Duration
	Cause            error
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("python call %s.%s is stuck in native code: it did not answer the interrupt within %s (%v); end the process to stop it",
		e.Module, e.Function, e.Waited, e.Cause)
}

func (e *StuckError) Unwrap() error { return e.Cause }

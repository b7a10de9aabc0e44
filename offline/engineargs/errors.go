package engineargs

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An Error is a problem in one --engine-arg value, located in the text the
// user typed.
type Error struct {
	// Input is the --engine-arg value as given.
	Input string
	// Offset is the byte offset of Text in Input.
	Offset int
	// Line and Column locate Text in Input, from 1; Column counts
	// characters, not bytes.
	Line, Column int
	// Text is the offending text; empty at the end of the input.
	Text string
	// Msg says what is wrong.
	Msg string
	// Hint suggests a fix; it may be empty.
	Hint string
}

// Error returns a one-line message, e.g.
//
//	--engine-arg 'vllm: dtype=bfloat16': column 13: `bfloat16`: a bare name is not a literal; hint: did you mean dtype="bfloat16"?
//
// The line is given too when the input has several.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--engine-arg %s: ", shellQuote(e.Input))
	if strings.Contains(e.Input, "\n") {
		fmt.Fprintf(&b, "line %d, ", e.Line)
	}
	fmt.Fprintf(&b, "column %d: ", e.Column)
	if e.Text != "" {
		fmt.Fprintf(&b, "`%s`: ", clip(e.Text))
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("; hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Caret returns the input line holding the error with a caret line under the
// offending text, for terminals:
//
//	vllm: dtype=bfloat16
//	            ^^^^^^^^
func (e *Error) Caret() string {
	start := strings.LastIndexByte(e.Input[:e.Offset], '\n') + 1
	end := strings.IndexByte(e.Input[e.Offset:], '\n')
	if end < 0 {
		end = len(e.Input)
	} else {
		end += e.Offset
	}
	// One character per column, as Column counts them: tabs become spaces
	// and each invalid byte one U+FFFD (ranging over a string does that).
	var lb strings.Builder
	for _, r := range e.Input[start:end] {
		if r == '\t' {
			r = ' '
		}
		lb.WriteRune(r)
	}
	line := lb.String()
	n := utf8.RuneCountInString(e.Text)
	if i := strings.IndexByte(e.Text, '\n'); i >= 0 {
		n = utf8.RuneCountInString(e.Text[:i])
	}
	return line + "\n" + strings.Repeat(" ", e.Column-1) + strings.Repeat("^", max(n, 1))
}

// newError locates text at byte offset off of in.
func newError(in string, off int, text, msg, hint string) *Error {
	line := 1 + strings.Count(in[:off], "\n")
	lineStart := strings.LastIndexByte(in[:off], '\n') + 1
	return &Error{
		Input: in, Offset: off, Line: line, Column: utf8.RuneCountInString(in[lineStart:off]) + 1,
		Text: text, Msg: msg, Hint: hint,
	}
}

// shellQuote quotes s as the user would have typed it in a shell.
// Text a shell could not show as typed (quotes, newlines, control
// characters, invalid UTF-8) is quoted Go-style instead.
func shellQuote(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r == '\'' || r < ' ' || r == 0x7f }) {
		return "'" + s + "'"
	}
	return strconv.Quote(s)
}

// clip shortens long offending text (a whole list, say) for the message.
func clip(s string) string {
	const maxRunes = 60
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxRunes-3]) + "..."
}

package engineargs

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The scanner runs before gpython. It does three jobs:
//
//  1. It rewrites PEP 515 numbers (8_192), which gpython's Python 3.4 lexer
//     rejects, without changing any offset: the underscores are removed and
//     as many spaces appended after the number ("8_192" -> "8192 "). Every
//     other byte keeps its offset, so gpython's positions map straight back
//     to the user's text.
//  2. It rejects what gpython would misread or report badly, with a precise
//     position: f-strings and bytes literals, escapes gpython decodes
//     differently from CPython (\N{...}, lone surrogates), comments, stray
//     characters, bad numbers, unbalanced brackets and unterminated strings.
//  3. It records tokens, so that errors can show the offending text: gpython
//     reports only where a syntax error was noticed and where a node starts.

type tokKind int

const (
	tkName tokKind = iota
	tkNumber
	tkString
	tkOp
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the full input
}

// scanner scans in[from:].
type scanner struct {
	in   string
	from int
	out  []byte // in[from:], rewritten; same length
	toks []token
}

// operators are Python's operators and delimiters, longest first.
var operators = []string{
	"**=", "...", "//=", "<<=", ">>=",
	"!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=", "<<", "<=", "<>", "==", ">=", ">>", "^=", "|=",
	"(", ")", "[", "]", ":", ",", ";", "+", "-", "*", "/", "|", "&", "<", ">", "=", ".", "%", "{", "}", "^", "~", "@",
}

// pythonKeywords are the reserved words of Python 3.10+, which cannot be
// argument names.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

func scan(in string, from int) (*scanner, *Error) {
	s := &scanner{in: in, from: from, out: []byte(in[from:])}
	for i := from; i < len(in); {
		c := in[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '\r' || c == '\f':
			// gpython only knows spaces, tabs and newlines.
			s.out[i-from] = ' '
			i++
		case c == '#':
			return nil, s.errorf(i, in[i:lineEnd(in, i)], "comments are not allowed", "remove the # and what follows it")
		case c == '\\':
			return nil, s.errorf(i, `\`, "a backslash is only allowed inside a string", "put all arguments on one line")
		case c == '"' || c == '\'':
			j, err := s.str(i, i)
			if err != nil {
				return nil, err
			}
			i = j
		case isDigit(c) || c == '.' && i+1 < len(in) && isDigit(in[i+1]):
			j, err := s.number(i)
			if err != nil {
				return nil, err
			}
			i = j
		default:
			r, size := utf8.DecodeRuneInString(in[i:])
			if isIdentStart(r) {
				j := i + size
				for j < len(in) {
					r, size := utf8.DecodeRuneInString(in[j:])
					if !isIdentChar(r) {
						break
					}
					j += size
				}
				if j < len(in) && (in[j] == '"' || in[j] == '\'') && isStringPrefix(in[i:j]) {
					k, err := s.str(i, j)
					if err != nil {
						return nil, err
					}
					i = k
					continue
				}
				s.toks = append(s.toks, token{tkName, i, j})
				i = j
				continue
			}
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(in[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, s.errorf(i, in[i:i+size], "unexpected character "+strconv.QuoteRune(r),
					"values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts")
			}
			s.toks = append(s.toks, token{tkOp, i, i + len(op)})
			i += len(op)
		}
	}
	if err := s.brackets(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *scanner) errorf(off int, text, msg, hint string) *Error {
	return newError(s.in, off, text, msg, hint)
}

func (s *scanner) text(t token) string { return s.in[t.start:t.end] }

// str scans a string literal whose prefix starts at start and whose opening
// quote is at q, and returns the offset after it.
func (s *scanner) str(start, q int) (int, *Error) {
	in := s.in
	prefix := strings.ToLower(in[start:q])
	// f-strings and bytes are rejected below; scanning them as raw only
	// finds where they end, without complaining about their escapes first.
	raw := strings.ContainsAny(prefix, "rfb")
	quote := in[q : q+1]
	if strings.HasPrefix(in[q:], strings.Repeat(quote, 3)) {
		quote = in[q : q+3]
	}
	j := q + len(quote)
	for {
		if j >= len(in) || len(quote) == 1 && in[j] == '\n' {
			hint := "close it with " + quote
			if len(quote) == 1 && j < len(in) {
				hint += " before the end of the line"
			}
			return 0, s.errorf(start, in[start:lineEnd(in, start)], "unterminated string", hint)
		}
		if strings.HasPrefix(in[j:], quote) {
			j += len(quote)
			break
		}
		if in[j] != '\\' {
			j++
			continue
		}
		if raw {
			j += 2 // a backslash escapes the next character even in raw strings
			continue
		}
		n, err := s.escape(j)
		if err != nil {
			return 0, err
		}
		j += n
	}
	lit := in[start:j]
	body := in[q+len(quote) : j-len(quote)]
	switch {
	case strings.Contains(prefix, "f"):
		return 0, s.errorf(start, lit, "f-strings are not allowed", "write a plain string: "+quote+body+quote)
	case strings.Contains(prefix, "b"):
		return 0, s.errorf(start, lit, "bytes literals are not allowed", "write a str: "+quote+body+quote)
	}
	s.toks = append(s.toks, token{tkString, start, j})
	return j, nil
}

// escape checks the escape sequence at in[j] == '\\' in a non-raw string and
// returns its length. Unknown escapes such as \d are kept as two characters,
// as CPython (and gpython) do.
func (s *scanner) escape(j int) (int, *Error) {
	in := s.in
	if j+1 >= len(in) {
		return 1, nil // the unterminated-string check reports it
	}
	hex := func(name string, n int, example string) (int, *Error) {
		k := j + 2
		for k < j+2+n && k < len(in) && isHexDigit(in[k]) {
			k++
		}
		if k < j+2+n {
			return 0, s.errorf(j, in[j:k], "truncated "+name+" escape", name+" needs "+strconv.Itoa(n)+" hex digits, e.g. "+example)
		}
		if n == 2 {
			return k - j, nil
		}
		v, _ := strconv.ParseUint(in[j+2:k], 16, 32)
		switch {
		case v > unicode.MaxRune:
			return 0, s.errorf(j, in[j:k], "escape is beyond the last Unicode character U+10FFFF", `\U escapes go up to \U0010ffff`)
		case v >= 0xd800 && v <= 0xdfff:
			// gpython would silently turn it into U+FFFD; it cannot travel
			// as UTF-8 or JSON anyway.
			return 0, s.errorf(j, in[j:k], "lone surrogate escapes are not allowed", "write the character itself or its \\U escape")
		}
		return k - j, nil
	}
	switch c := in[j+1]; c {
	case 'x':
		return hex(`\x`, 2, `\x41`)
	case 'u':
		return hex(`\u`, 4, `\u00e9`)
	case 'U':
		return hex(`\U`, 8, `\U0001f600`)
	case 'N':
		// gpython keeps \N{...} undecoded, which CPython would not.
		k := j + 2
		if k < len(in) && in[k] == '{' {
			if e := strings.IndexByte(in[k:], '}'); e >= 0 {
				k += e + 1
			}
		}
		return 0, s.errorf(j, in[j:k], `\N{...} escapes are not supported`, `type the character itself, or use a \u escape such as \u2014`)
	case '0', '1', '2', '3', '4', '5', '6', '7':
		k := j + 2
		for k < j+4 && k < len(in) && in[k] >= '0' && in[k] <= '7' {
			k++
		}
		return k - j, nil
	default:
		_, size := utf8.DecodeRuneInString(in[j+1:])
		return 1 + size, nil
	}
}

// number scans a Python 3.6+ numeric literal at i, checks its underscores
// and leading zeros, rewrites it without underscores for gpython, and
// returns the offset after it.
func (s *scanner) number(i int) (int, *Error) {
	in := s.in
	bad := func(msg, hint string) (int, *Error) {
		return 0, s.errorf(i, numberText(in, i), msg, hint)
	}
	const underscoreHint = "underscores may only separate digits, as in 8_192"
	// digits scans digit (_? digit)* from j; it fails on a misplaced '_'.
	digits := func(j int, ok func(byte) bool) (int, bool) {
		if j >= len(in) || !ok(in[j]) {
			return j, false
		}
		for j < len(in) {
			switch {
			case ok(in[j]):
				j++
			case in[j] == '_' && j+1 < len(in) && ok(in[j+1]):
				j += 2
			case in[j] == '_':
				return j, false
			default:
				return j, true
			}
		}
		return j, true
	}
	j := i
	isInt := true
	baseHint := numberHint // for 0x, 0o and 0b numbers: which digits they take
	if in[i] == '0' && i+1 < len(in) && strings.IndexByte("xXoObB", in[i+1]) >= 0 {
		ok := isHexDigit
		baseHint = "hexadecimal digits are 0-9 and a-f"
		switch in[i+1] {
		case 'o', 'O':
			ok, baseHint = func(c byte) bool { return c >= '0' && c <= '7' }, "octal digits are 0-7"
		case 'b', 'B':
			ok, baseHint = func(c byte) bool { return c == '0' || c == '1' }, "binary digits are 0 and 1"
		}
		j = i + 2
		if j < len(in) && in[j] == '_' {
			j++ // PEP 515 allows 0x_ff
		}
		var good bool
		if j, good = digits(j, ok); !good {
			if strings.Contains(numberText(in, i), "_") {
				return bad("invalid underscore in number", underscoreHint)
			}
			return bad("invalid number", baseHint)
		}
		if j < len(in) {
			if r, _ := utf8.DecodeRuneInString(in[j:]); isIdentChar(r) || r == '.' {
				return bad("invalid number", baseHint)
			}
		}
	} else {
		good := true
		if isDigit(in[j]) {
			j, good = digits(j, isDigit)
		}
		if good && j < len(in) && in[j] == '.' {
			isInt = false
			j++
			if j < len(in) && (isDigit(in[j]) || in[j] == '_') {
				j, good = digits(j, isDigit)
			}
		}
		if good && j < len(in) && (in[j] == 'e' || in[j] == 'E') {
			isInt = false
			k := j + 1
			if k < len(in) && (in[k] == '+' || in[k] == '-') {
				k++
			}
			j, good = digits(k, isDigit)
		}
		if good && j < len(in) && (in[j] == 'j' || in[j] == 'J') {
			isInt = false
			j++
		}
		if !good {
			if strings.Contains(numberText(in, i), "_") {
				return bad("invalid underscore in number", underscoreHint)
			}
			return bad("invalid number", numberHint)
		}
		lit := strings.ReplaceAll(in[i:j], "_", "")
		if isInt && len(lit) > 1 && lit[0] == '0' && strings.Trim(lit, "0") != "" {
			return bad("leading zeros are not allowed in decimal integers", "write "+strings.TrimLeft(lit, "0")+", or 0o"+strings.TrimLeft(lit, "0")+" for an octal number")
		}
	}
	if j < len(in) {
		if r, _ := utf8.DecodeRuneInString(in[j:]); isIdentChar(r) || r == '.' {
			return bad("invalid number", baseHint)
		}
	}
	if lit := in[i:j]; strings.Contains(lit, "_") {
		clean := strings.ReplaceAll(lit, "_", "")
		copy(s.out[i-s.from:], clean+strings.Repeat(" ", len(lit)-len(clean)))
	}
	s.toks = append(s.toks, token{tkNumber, i, j})
	return j, nil
}

// numberText returns the run of number-like characters at i, for messages.
func numberText(in string, i int) string {
	j := i
	for j < len(in) {
		r, size := utf8.DecodeRuneInString(in[j:])
		if !isIdentChar(r) && r != '.' && !((r == '+' || r == '-') && j > i && (in[j-1] == 'e' || in[j-1] == 'E')) {
			break
		}
		j += size
	}
	return in[i:j]
}

var closers = map[string]string{"(": ")", "[": "]", "{": "}"}

// numberHint shows how numbers are written.
const numberHint = "numbers are written like 8192, 0.85, 1e-5 or 0x1f; quote other text as a string"

// brackets checks that brackets match, so that gpython's "unexpected EOF"
// becomes "this bracket is never closed".
func (s *scanner) brackets() *Error {
	pairs := map[string]string{")": "(", "]": "[", "}": "{"}
	var stack []token
	for _, t := range s.toks {
		if t.kind != tkOp {
			continue
		}
		switch op := s.text(t); op {
		case "(", "[", "{":
			stack = append(stack, t)
		case ")", "]", "}":
			if len(stack) == 0 {
				return s.errorf(t.start, op, "unmatched "+op, "remove it, or add the opening "+pairs[op])
			}
			open := stack[len(stack)-1]
			if s.text(open) != pairs[op] {
				o := newError(s.in, open.start, "", "", "")
				return s.errorf(t.start, op, op+" does not match "+s.text(open)+" at column "+strconv.Itoa(o.Column), "close "+s.text(open)+" with "+closers[s.text(open)])
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		open := stack[len(stack)-1]
		return s.errorf(open.start, s.text(open), s.text(open)+" is never closed", "add the closing "+closers[s.text(open)])
	}
	return nil
}

// tokenIndex returns the index of the token starting at off, or -1.
func (s *scanner) tokenIndex(off int) int {
	i := sort.Search(len(s.toks), func(i int) bool { return s.toks[i].start >= off })
	if i < len(s.toks) && s.toks[i].start == off {
		return i
	}
	return -1
}

// exprEnd returns the end offset of the expression whose first token is
// toks[i]: up to the next comma, colon or '=' at its own bracket depth, or
// the closing bracket that encloses it.
func (s *scanner) exprEnd(i int) int {
	depth := 0
	end := s.toks[i].end
	for _, t := range s.toks[i:] {
		if t.kind == tkOp {
			switch s.text(t) {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return end
				}
				depth--
			case ",", ":", "=":
				if depth == 0 {
					return end
				}
			}
		}
		end = t.end
	}
	return end
}

// exprText returns the source text of the expression starting at off.
func (s *scanner) exprText(off int) string {
	i := s.tokenIndex(off)
	if i < 0 {
		return ""
	}
	return s.in[off:s.exprEnd(i)]
}

func lineEnd(in string, i int) int {
	if e := strings.IndexByte(in[i:], '\n'); e >= 0 {
		return i + e
	}
	return len(in)
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isIdentStart and isIdentChar follow gpython's lexer, so that the two
// agree on where names end.
func isIdentStart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' ||
		r >= utf8.RuneSelf && unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lm, unicode.Lo, unicode.Nl)
}

func isIdentChar(r rune) bool {
	return isIdentStart(r) || r >= '0' && r <= '9' ||
		r >= utf8.RuneSelf && unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)
}

func isStringPrefix(p string) bool {
	switch strings.ToLower(p) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// isIdentifier reports whether s is an ASCII Python identifier.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

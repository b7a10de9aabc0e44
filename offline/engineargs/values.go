package engineargs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
)

// A Pair is one key and its value: a keyword argument or a dict entry.
type Pair struct {
	Key   string
	Value any
}

// Kwargs are keyword arguments in the order given. Values have these Go
// types (see the package documentation): string, int64, json.Number (ints
// beyond int64), Float, bool, nil (None), []any (lists and tuples) and Dict.
type Kwargs []Pair

// Get returns the value of key and whether it is present.
func (k Kwargs) Get(key string) (any, bool) { return get(k, key) }

// Format renders k as Python keyword arguments, e.g.
// `gpu_memory_utilization=0.85, max_num_seqs=256, dtype="bfloat16"`. The
// text parses back to the same Kwargs. Strings use double quotes so that the
// text pastes into a single-quoted shell argument.
func (k Kwargs) Format() string {
	var b strings.Builder
	for i, p := range k {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Key)
		b.WriteByte('=')
		formatValue(&b, p.Value)
	}
	return b.String()
}

// MarshalJSON encodes k as a JSON object with the keys in order. Python's
// json.loads turns it back into the same values (tuples become lists).
// (json.Marshal then escapes <, > and & as \u003c and so on, which
// json.loads reads back unchanged; an Encoder with SetEscapeHTML(false)
// keeps them readable.)
func (k Kwargs) MarshalJSON() ([]byte, error) { return marshalPairs(k) }

// UnmarshalJSON decodes a JSON object written by MarshalJSON, restoring the
// Go value types (see Kwargs): integers become int64 or json.Number, numbers
// with a fraction or exponent Float, objects Dict. Keys must be Python
// identifiers and appear once.
func (k *Kwargs) UnmarshalJSON(data []byte) error {
	d, err := unmarshalObject(data)
	if err != nil {
		return err
	}
	for _, p := range d {
		if !isIdentifier(p.Key) || pythonKeywords[p.Key] {
			return fmt.Errorf("engine args: key %q is not a Python identifier", p.Key)
		}
	}
	*k = Kwargs(d)
	return nil
}

// A Dict is a Python dict with string keys, in insertion order (JSON
// objects have no order in Go maps; Python dicts and reports keep one).
type Dict []Pair

// Get returns the value of key and whether it is present.
func (d Dict) Get(key string) (any, bool) { return get(d, key) }

// MarshalJSON encodes d as a JSON object with the keys in order.
func (d Dict) MarshalJSON() ([]byte, error) { return marshalPairs(d) }

// UnmarshalJSON decodes a JSON object (see Kwargs.UnmarshalJSON).
func (d *Dict) UnmarshalJSON(data []byte) error {
	v, err := unmarshalObject(data)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// A Float is a Python float. Its JSON and text forms are Python's repr, which
// always has a '.' or an exponent: Go would encode float64(4) as 4, which
// Python's json.loads would read back as the int 4.
type Float float64

// String returns Python's repr of f, e.g. "0.85", "4.0", "1e-05", "1e+16".
func (f Float) String() string { return pyFloatRepr(float64(f)) }

// MarshalJSON encodes f as its Python repr; it fails for NaN and infinities,
// which JSON cannot carry.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return nil, fmt.Errorf("engine args: %v cannot be encoded as JSON", float64(f))
	}
	return []byte(f.String()), nil
}

func get(ps []Pair, key string) (any, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

func formatValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		b.WriteString(pyQuote(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case json.Number:
		b.WriteString(string(v))
	case Float:
		b.WriteString(v.String())
	case float64:
		b.WriteString(pyFloatRepr(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, e)
		}
		b.WriteByte(']')
	case Dict:
		b.WriteByte('{')
		for i, p := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(p.Key))
			b.WriteString(": ")
			formatValue(b, p.Value)
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%#v", v)
	}
}

// pyQuote returns s as a double-quoted Python string literal, escaping like
// Python's repr: \\, \", \n, \r, \t, and \xNN, \uNNNN or \UNNNNNNNN for
// characters that are not printable.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case unicode.IsPrint(r):
				b.WriteRune(r)
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pyFloatRepr formats f like Python's repr(float): the shortest digits that
// round-trip, in positional notation when the decimal exponent is in
// [-4, 16), otherwise as d.ddde±XX, and always with a '.' or an 'e'.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // "d.dddde±XX"
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	decpt := x + 1 // the value is 0.DIGITS × 10^decpt
	switch {
	case decpt > 16 || decpt < -3: // Python's repr switches at 1e16 and 1e-4
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if x < 0 {
			es, x = "-", -x
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, x)
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	default:
		return sign + digits[:decpt] + "." + digits[decpt:]
	}
}

// marshalPairs encodes pairs as a JSON object in order.
func marshalPairs(ps []Pair) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, ps); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeJSONString(b, v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case json.Number:
		if _, ok := new(big.Int).SetString(string(v), 10); !ok {
			return fmt.Errorf("engine args: json.Number %q is not an integer", string(v))
		}
		b.WriteString(string(v))
	case Float:
		j, err := v.MarshalJSON()
		if err != nil {
			return err
		}
		b.Write(j)
	case float64:
		return writeJSON(b, Float(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Dict:
		return writeJSON(b, []Pair(v))
	case Kwargs:
		return writeJSON(b, []Pair(v))
	case []Pair:
		b.WriteByte('{')
		for i, p := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, p.Key)
			b.WriteByte(':')
			if err := writeJSON(b, p.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("engine args: cannot encode a %T as JSON", v)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	// encoding/json's string escaping, without HTML escapes so that "<s>"
	// stays readable in manifests.
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // cannot fail for a string
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

// unmarshalObject decodes one JSON object into ordered pairs.
func unmarshalObject(data []byte) ([]Pair, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("engine args: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("engine args: expected a JSON object, found %v", tok)
	}
	v, err := decodeObject(dec)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the object was cut short
	}
	if err != nil {
		return nil, fmt.Errorf("engine args: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("engine args: trailing data after the JSON object")
	}
	return v, nil
}

func decodeObject(dec *json.Decoder) (Dict, error) {
	d := Dict{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // object keys are always strings
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		v, err := decodeValue(dec)
		if err != nil {
			return nil, err
		}
		d = append(d, Pair{key, v})
	}
	_, err := dec.Token() // '}'
	return d, err
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return decodeObject(dec)
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token() // ']'
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		// The JSON text decides the Python type, as in json.loads.
		if strings.ContainsAny(string(t), ".eE") {
			f, err := strconv.ParseFloat(string(t), 64)
			if err != nil {
				return nil, fmt.Errorf("number %s: %w", t, err)
			}
			return Float(f), nil
		}
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		return normalizeBig(t), nil
	default: // string, bool, nil
		return t, nil
	}
}

// normalizeBig drops a "-0" sign and leading zeros that JSON forbids anyway.
func normalizeBig(n json.Number) json.Number {
	b, ok := new(big.Int).SetString(string(n), 10)
	if !ok {
		return n
	}
	return json.Number(b.String())
}

// bigValue returns b as int64 when it fits, else as a json.Number.
func bigValue(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return json.Number(b.String())
}

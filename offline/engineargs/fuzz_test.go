package engineargs

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error points at its
// text, and that every accepted value survives Format and JSON round trips.
func FuzzParse(f *testing.F) {
	for _, tt := range accepted {
		f.Add(tt.in)
	}
	for _, tt := range rejected {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		engine, kw, err := parseOne(in, engines)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v is a %T", err, err)
			}
			if perr.Offset < 0 || perr.Offset > len(in) || !strings.HasPrefix(in[perr.Offset:], perr.Text) || perr.Column < 1 || perr.Line < 1 || perr.Hint == "" {
				t.Fatalf("bad error position %+v", perr)
			}
			_ = perr.Caret()
			return
		}
		_, again, err := parseOne(engine+": "+kw.Format(), engines)
		if err != nil || !reflect.DeepEqual(again, kw) {
			t.Fatalf("parseOne(Format()) = %#v, %v; want %#v", again, err, kw)
		}
		b, err := json.Marshal(kw)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var back Kwargs
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, kw) {
			t.Fatalf("JSON round trip = %#v, %v; want %#v", back, err, kw)
		}
	})
}

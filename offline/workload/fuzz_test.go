package workload

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input makes Decode panic, and that whatever it
// accepts re-encodes to a document it accepts again with the same hash.
func FuzzDecode(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "small.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"prompts":[[1,2],[3]],"cells":[]}`))
	f.Add([]byte(`{"version":1,"spec":{"reps":[}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := w.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := Decode(&buf)
		if err != nil {
			t.Fatalf("re-decoding an accepted workload: %v", err)
		}
		if again.SHA256 != w.SHA256 {
			t.Fatalf("hash changed: %s -> %s", w.SHA256, again.SHA256)
		}
	})
}

package pyhost_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/pyhost"
	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

func TestLocateDefault(t *testing.T) {
	in := pyhosttest.DefaultPython(t)
	if in.LibPython == "" || !strings.Contains(filepath.Base(in.LibPython), "libpython3.") {
		t.Errorf("libpython = %q", in.LibPython)
	}
	if _, err := os.Stat(in.LibPython); err != nil {
		t.Error(err)
	}
	if in.Major != 3 || in.Minor < pyhost.MinMinor {
		t.Errorf("version %s", in.Version)
	}
}

func TestLocateBadInput(t *testing.T) {
	notShared, _ := filepath.Abs("testdata/not-shared-python")
	emptyDir := t.TempDir()
	tests := []struct {
		name, python string
		want         []string
	}{
		{"missing path", "/nonexistent/bin/python3", []string{"/nonexistent/bin/python3", "no such file"}},
		{"not a python", "/bin/ls", []string{"/bin/ls", "not", "Python interpreter"}},
		{"not executable", "testdata/pypath/hostcheck.py", []string{"hostcheck.py", "not a runnable Python"}},
		{"directory without a python", emptyDir, []string{"is a directory without bin/python3"}},
		{"no libpython", notShared, []string{"without --enable-shared", "no libpython", "pyenv", "apt install libpython3.11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pyhost.Locate(context.Background(), tt.python)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Unsupported versions are refused with the supported range; pyenv often has
// old ones installed.
func TestLocateUnsupportedVersion(t *testing.T) {
	home, _ := os.UserHomeDir()
	old, _ := filepath.Glob(filepath.Join(home, ".pyenv", "versions", "3.[6-9].*", "bin", "python3"))
	if len(old) == 0 {
		t.Skip("no CPython older than 3.10 here")
	}
	_, err := pyhost.Locate(context.Background(), old[0])
	if err == nil || !strings.Contains(err.Error(), "supports CPython 3.10 to 3.13") {
		t.Errorf("Locate(%s) = %v", old[0], err)
	}
}

func TestResolvePythonFromEnv(t *testing.T) {
	t.Setenv("ENGINEBENCH_PYTHON", "/nonexistent/envpython")
	_, err := pyhost.ResolvePython("")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/envpython") {
		t.Errorf("err = %v, want it to name $ENGINEBENCH_PYTHON's value", err)
	}
}

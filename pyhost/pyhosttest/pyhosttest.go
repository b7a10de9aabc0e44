// Package pyhosttest finds the CPython interpreters a test can embed and
// runs tests that need an interpreter in child processes of their own:
// CPython can be initialized only once per process.
package pyhosttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/enginebench/enginebench/pyhost"
)

// PythonEnv names the variable that tells a test child which python to embed.
const PythonEnv = "ENGINEBENCH_TEST_PYTHON"

// DefaultPython returns the interpreter tests embed in-process:
// $ENGINEBENCH_TEST_PYTHON, else python3 on PATH. It skips the test, with
// the reason, when that python cannot be embedded.
func DefaultPython(t testing.TB) *pyhost.Interpreter {
	t.Helper()
	in, err := pyhost.Locate(context.Background(), os.Getenv(PythonEnv))
	if err != nil {
		t.Skipf("no embeddable python: %v", err)
	}
	return in
}

// Candidate is one CPython minor version the host supports, and the
// interpreter found for it, if any.
type Candidate struct {
	Minor  int
	Interp *pyhost.Interpreter
	Reason string // why there is none
}

// Pythons looks for a CPython 3.10 to 3.13 interpreter of each minor
// version: python3.X on PATH, then pyenv's versions directory.
func Pythons() []Candidate {
	var out []Candidate
	for minor := pyhost.MinMinor; minor <= pyhost.MaxMinor; minor++ {
		c := Candidate{Minor: minor}
		for _, p := range candidatesFor(minor) {
			in, err := pyhost.Locate(context.Background(), p)
			if err != nil {
				c.Reason = err.Error()
				continue
			}
			if in.Minor == minor {
				c.Interp, c.Reason = in, ""
				break
			}
		}
		if c.Interp == nil && c.Reason == "" {
			c.Reason = fmt.Sprintf("no python3.%d on PATH or under pyenv", minor)
		}
		out = append(out, c)
	}
	return out
}

func candidatesFor(minor int) []string {
	var ps []string
	if p, err := exec.LookPath(fmt.Sprintf("python3.%d", minor)); err == nil {
		ps = append(ps, p)
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, ".pyenv")
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "versions", fmt.Sprintf("3.%d.*", minor), "bin", "python3"))
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	return append(ps, matches...)
}

// RunChild re-runs the current test binary with -test.run=pattern and the
// given extra environment (PythonEnv among it), and fails t with the child's
// output if the child fails.
func RunChild(t *testing.T, pattern string, env ...string) string {
	t.Helper()
	args := []string{"-test.run=" + pattern, "-test.v", "-test.count=1"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test %s (%v) failed: %v\n%s", pattern, env, err, out)
	}
	return string(out)
}

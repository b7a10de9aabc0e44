package pyhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enginebench/enginebench/pyhost"
	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

var (
	hostOnce sync.Once
	host     *pyhost.Host
	hostErr  error
)

// testHost starts this process's interpreter (once) with the test modules on
// sys.path and HOSTCHECK_ENV set before initialization.
func testHost(t testing.TB) *pyhost.Host {
	t.Helper()
	in := pyhosttest.DefaultPython(t)
	hostOnce.Do(func() {
		pypath, _ := filepath.Abs("testdata/pypath")
		host, hostErr = pyhost.Start(context.Background(), pyhost.Config{
			Python:         in.Executable,
			Paths:          []string{pypath},
			Env:            map[string]string{"HOSTCHECK_ENV": "set-before-init"},
			Argv:           []string{"enginebench-test", "--flag"},
			CacheDir:       filepath.Join(os.TempDir(), "enginebench-pyhost-test-cache"),
			InterruptGrace: 700 * time.Millisecond,
		})
	})
	if hostErr != nil {
		t.Fatalf("starting the host: %v", hostErr)
	}
	return host
}

type interpInfo struct {
	Executable   string   `json:"executable"`
	Version      string   `json:"version"`
	Prefix       string   `json:"prefix"`
	BasePrefix   string   `json:"base_prefix"`
	Argv         []string `json:"argv"`
	Path         []string `json:"path"`
	MainThread   bool     `json:"main_thread"`
	MathSqrt2    float64  `json:"math_sqrt2"`
	MathFile     string   `json:"math_file"`
	JSONCScanner bool     `json:"json_c_scanner"`
	Exitcode     *int     `json:"exitcode"`
}

// TestHost exercises one interpreter end to end. It runs in-process with the
// default python, and again in a child process for every other CPython the
// machine has (TestHostAcrossPythons).
func TestHost(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	var info interpInfo
	if err := h.CallJSON(ctx, "hostcheck", "interpreter", nil, &info); err != nil {
		t.Fatal(err)
	}
	t.Logf("embedded %s %s", info.Executable, info.Version)

	t.Run("is the interpreter it was given", func(t *testing.T) {
		in := h.Interpreter()
		if info.Executable != in.Executable || info.Version != in.Version || info.Prefix != in.Prefix {
			t.Errorf("embedded interpreter = %s %s %s, want %s %s %s", info.Executable, info.Version, info.Prefix, in.Executable, in.Version, in.Prefix)
		}
		if !info.MainThread {
			t.Error("calls do not run on Python's main thread")
		}
		if got := strings.Join(info.Argv, " "); got != "enginebench-test --flag" {
			t.Errorf("sys.argv = %q", got)
		}
		if len(info.Path) < 2 || info.Path[0] != h.PackageDir() || !strings.HasSuffix(info.Path[1], "testdata/pypath") {
			t.Errorf("sys.path starts %q, want the package dir then testdata/pypath", info.Path[:min(3, len(info.Path))])
		}
	})

	t.Run("C extension modules import", func(t *testing.T) {
		if info.MathSqrt2 < 1.414 || info.MathSqrt2 > 1.415 {
			t.Errorf("math.sqrt(2) = %v", info.MathSqrt2)
		}
		if !info.JSONCScanner {
			t.Error("_json did not load: json fell back to pure Python (libpython opened without RTLD_GLOBAL?)")
		}
	})

	t.Run("environment set before init is visible", func(t *testing.T) {
		var env map[string]*string
		if err := h.CallJSON(ctx, "hostcheck", "environ", []string{"HOSTCHECK_ENV"}, &env); err != nil {
			t.Fatal(err)
		}
		if v := env["HOSTCHECK_ENV"]; v == nil || *v != "set-before-init" {
			t.Errorf("os.environ[HOSTCHECK_ENV] = %v", v)
		}
	})

	t.Run("JSON round trip", func(t *testing.T) {
		in := map[string]any{"ids": []any{1.0, 2.0, 3.0}, "text": "héllo ✓ \u0000 end", "nested": map[string]any{"none": nil, "t": true}}
		var out map[string]any
		if err := h.CallJSON(ctx, "hostcheck", "echo", in, &out); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(in)
		b, _ := json.Marshal(out)
		if string(a) != string(b) {
			t.Errorf("echo = %s, want %s", b, a)
		}
		var raw json.RawMessage
		if err := h.CallJSON(ctx, "hostcheck", "echo", json.RawMessage(" \n[1,2] \t"), &raw); err != nil || string(raw) != "[1, 2]" {
			t.Errorf("raw echo = %s, %v", raw, err)
		}
	})

	t.Run("CallTimed spans the Python call only", func(t *testing.T) {
		before := time.Now()
		var n int
		span, err := h.CallTimed(ctx, "hostcheck", "busy_loop", 0.05, &n)
		after := time.Now()
		if err != nil || n == 0 {
			t.Fatalf("busy_loop: %d, %v", n, err)
		}
		if d := span.Duration(); d < 50*time.Millisecond || span.Start.Before(before) || span.End.After(after) {
			t.Errorf("span %v (%v .. %v) for a 50 ms loop called within %v .. %v", d, span.Start, span.End, before, after)
		}
		if span, err := h.CallTimed(ctx, "hostcheck", "no_such_function", nil, nil); err == nil || span.Start.IsZero() {
			t.Errorf("a failing call: span %v, err %v; want the span of the attempt and the error", span, err)
		}
	})

	t.Run("bad JSON either way is a clear PyError", func(t *testing.T) {
		for _, c := range []struct {
			function string
			in       any
			wantType string
			want     string
		}{
			{"echo", json.RawMessage(`{"a": 1} x`), "json.decoder.JSONDecodeError", "Extra data: line 1 column 10 (char 9)"},
			{"echo", json.RawMessage(`[1,`), "json.decoder.JSONDecodeError", "Expecting value: line 1 column 4 (char 3)"},
			{"unserializable", nil, "TypeError", "Object of type object is not JSON serializable"},
		} {
			err := h.CallJSON(ctx, "hostcheck", c.function, c.in, nil)
			var pe *pyhost.PyError
			if !errors.As(err, &pe) || pe.Type != c.wantType || pe.Message != c.want {
				t.Errorf("%s(%s): err = %v, want %s: %s", c.function, c.in, err, c.wantType, c.want)
			}
		}
	})

	t.Run("exception becomes a PyError with the traceback", func(t *testing.T) {
		err := h.CallJSON(ctx, "hostcheck", "fail", 0, nil)
		var pe *pyhost.PyError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v (%T), want *PyError", err, err)
		}
		if pe.Type != "ValueError" || pe.Message != "bad batch size: 0" {
			t.Errorf("PyError = %q %q", pe.Type, pe.Message)
		}
		for _, want := range []string{"Traceback (most recent call last):", "in fail", "in _outer", "in _inner", `raise ValueError(f"bad batch size: {n}")`, "ValueError: bad batch size: 0"} {
			if !strings.Contains(pe.Traceback, want) {
				t.Errorf("traceback lacks %q:\n%s", want, pe.Traceback)
			}
		}
		if !strings.Contains(err.Error(), "hostcheck.fail") {
			t.Errorf("error %q does not name the call", err)
		}
	})

	t.Run("module that does not exist", func(t *testing.T) {
		err := h.CallJSON(ctx, "no_such_module_xyz", "f", nil, nil)
		var pe *pyhost.PyError
		if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" || !strings.Contains(pe.Message, "no_such_module_xyz") {
			t.Fatalf("err = %v, want ModuleNotFoundError naming the module", err)
		}
	})

	t.Run("function that does not exist", func(t *testing.T) {
		err := h.CallJSON(ctx, "hostcheck", "no_such_function", nil, nil)
		var pe *pyhost.PyError
		if !errors.As(err, &pe) || pe.Type != "AttributeError" {
			t.Fatalf("err = %v, want AttributeError", err)
		}
	})

	t.Run("syntax error", func(t *testing.T) {
		err := h.CallJSON(ctx, "badsyntax", "broken", nil, nil)
		var pe *pyhost.PyError
		if !errors.As(err, &pe) || pe.Type != "SyntaxError" || !strings.Contains(pe.Traceback, "badsyntax.py") {
			t.Fatalf("err = %v, want SyntaxError naming badsyntax.py", err)
		}
	})

	t.Run("spawn child runs the same interpreter", func(t *testing.T) {
		var child interpInfo
		if err := h.CallJSON(ctx, "hostcheck", "spawn_child", nil, &child); err != nil {
			t.Fatal(err)
		}
		if child.Version != info.Version || child.Prefix != info.Prefix || child.Executable != info.Executable {
			t.Errorf("spawn child = %s %s %s, host = %s %s %s", child.Executable, child.Version, child.Prefix, info.Executable, info.Version, info.Prefix)
		}
		if child.Exitcode == nil || *child.Exitcode != 0 {
			t.Errorf("child exit code = %v", child.Exitcode)
		}
	})

	t.Run("Go goroutines run during a CPU-bound Python call", func(t *testing.T) {
		ticks := 0
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		done := make(chan error, 1)
		go func() { done <- h.CallJSON(ctx, "hostcheck", "busy_loop", 1.0, nil) }()
		for {
			select {
			case <-tk.C:
				ticks++
				continue
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			}
			break
		}
		// 1 s of Python at 10 ms is 100 ticks; allow a loaded 2-core machine slack.
		if ticks < 60 {
			t.Errorf("ticker ticked %d times during a 1 s Python call, want about 100", ticks)
		}
	})

	t.Run("Python threads run between calls", func(t *testing.T) {
		if err := h.CallJSON(ctx, "hostcheck", "start_background_thread", nil, nil); err != nil {
			t.Fatal(err)
		}
		var before, after int
		_ = h.CallJSON(ctx, "hostcheck", "background_count", nil, &before)
		time.Sleep(200 * time.Millisecond) // no call running: the GIL must be free
		_ = h.CallJSON(ctx, "hostcheck", "background_count", nil, &after)
		if after-before < 10 {
			t.Errorf("a Python thread advanced %d times in 200 ms between calls: the GIL is not released", after-before)
		}
	})

	t.Run("cancelling interrupts a Python loop promptly", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := h.CallJSON(cctx, "hostcheck", "busy_loop", 5.0, nil)
		elapsed := time.Since(start)
		if !errors.Is(err, pyhost.ErrInterrupted) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want an interrupted call", err)
		}
		if elapsed > time.Second {
			t.Errorf("a 5 s loop took %v to stop after a 300 ms deadline, want < 1 s", elapsed)
		}
		// No stray interrupt is left for the next call.
		var n int
		if err := h.CallJSON(ctx, "hostcheck", "busy_loop", 0.05, &n); err != nil || n == 0 {
			t.Errorf("the call after an interrupt: %d, %v", n, err)
		}
	})

	t.Run("a call stuck in native code is reported as such", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := h.CallJSON(cctx, "hostcheck", "hold_gil_sleep", 1.5, nil)
		var se *pyhost.StuckError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want *StuckError", err)
		}
		if e := time.Since(start); e > 1200*time.Millisecond {
			t.Errorf("stuck call reported after %v, want about 200 ms + grace 700 ms", e)
		}
		if !strings.Contains(err.Error(), "stuck in native code") {
			t.Errorf("error %q", err)
		}
		// Once the native call returns the host serves calls again.
		var out any
		if err := h.CallJSON(ctx, "hostcheck", "echo", "ok", &out); err != nil || out != "ok" {
			t.Errorf("call after a stuck one: %v, %v", out, err)
		}
	})

	t.Run("a cancelled context before the call", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := h.CallJSON(cctx, "hostcheck", "echo", 1, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestStartTwiceFails(t *testing.T) {
	testHost(t)
	_, err := pyhost.Start(context.Background(), pyhost.Config{})
	if err == nil || !strings.Contains(err.Error(), "once per process") {
		t.Errorf("second Start: %v", err)
	}
}

// TestHostAcrossPythons reruns TestHost in a child process for every CPython
// 3.10 to 3.13 the machine has, other than the default one.
func TestHostAcrossPythons(t *testing.T) {
	if os.Getenv(pyhosttest.PythonEnv) != "" {
		t.Skip("in a child process")
	}
	def := pyhosttest.DefaultPython(t)
	for _, c := range pyhosttest.Pythons() {
		t.Run(fmt.Sprintf("3.%d", c.Minor), func(t *testing.T) {
			if c.Interp == nil {
				t.Skipf("python 3.%d: %s", c.Minor, c.Reason)
			}
			if c.Interp.Executable == def.Executable {
				t.Skipf("%s is the default python, tested in-process", c.Interp.Executable)
			}
			t.Parallel()
			out := pyhosttest.RunChild(t, "^TestHost$", pyhosttest.PythonEnv+"="+c.Interp.Executable)
			if !strings.Contains(out, "--- PASS: TestHost ") || strings.Contains(out, "--- SKIP") {
				t.Errorf("child did not run TestHost fully:\n%s", out)
			}
		})
	}
}

// TestVenv checks that a virtualenv's packages win over its base
// interpreter's, for every CPython the machine has.
func TestVenv(t *testing.T) {
	if os.Getenv(pyhosttest.PythonEnv) != "" {
		t.Skip("in a child process")
	}
	for _, c := range pyhosttest.Pythons() {
		t.Run(fmt.Sprintf("3.%d", c.Minor), func(t *testing.T) {
			if c.Interp == nil {
				t.Skipf("python 3.%d: %s", c.Minor, c.Reason)
			}
			t.Parallel()
			venv := filepath.Join(t.TempDir(), "venv")
			// --system-site-packages puts the base's packages on sys.path too,
			// after the venv's: the strongest test of precedence.
			run(t, c.Interp.Executable, "-m", "venv", "--without-pip", "--system-site-packages", venv)
			site := filepath.Join(venv, "lib", fmt.Sprintf("python3.%d", c.Minor), "site-packages")
			// A package the base has (pip), in another version, and one it lacks.
			writeFile(t, filepath.Join(site, "pip", "__init__.py"), "__version__ = '0.0.0+venv-copy'\n")
			writeFile(t, filepath.Join(site, "venvonly", "__init__.py"), "__version__ = 'venv-only'\n")
			out := pyhosttest.RunChild(t, "^TestVenvChild$", pyhosttest.PythonEnv+"="+venv, "VENV_SITE="+site)
			if !strings.Contains(out, "--- PASS: TestVenvChild") {
				t.Errorf("child did not pass:\n%s", out)
			}
		})
	}
}

// TestVenvChild runs in the child started by TestVenv.
func TestVenvChild(t *testing.T) {
	site := os.Getenv("VENV_SITE")
	if site == "" {
		t.Skip("run by TestVenv in a child process")
	}
	h := testHost(t)
	ctx := context.Background()
	var info interpInfo
	if err := h.CallJSON(ctx, "hostcheck", "interpreter", nil, &info); err != nil {
		t.Fatal(err)
	}
	venv := filepath.Dir(filepath.Dir(filepath.Dir(site)))
	if info.Prefix != venv || !strings.HasPrefix(info.Executable, venv) {
		t.Errorf("prefix %s, executable %s; want the venv %s", info.Prefix, info.Executable, venv)
	}
	for name, want := range map[string]string{"pip": "0.0.0+venv-copy", "venvonly": "venv-only"} {
		var m struct{ File, Version string }
		if err := h.CallJSON(ctx, "hostcheck", "import_module", name, &m); err != nil {
			t.Fatal(err)
		}
		if m.Version != want || !strings.HasPrefix(m.File, site) {
			t.Errorf("import %s = %s from %s, want %s from the venv", name, m.Version, m.File, want)
		}
	}
	var child interpInfo
	if err := h.CallJSON(ctx, "hostcheck", "spawn_child", nil, &child); err != nil {
		t.Fatal(err)
	}
	if child.Prefix != venv || child.Executable != info.Executable {
		t.Errorf("spawn child prefix %s executable %s, want the venv's", child.Prefix, child.Executable)
	}
}

// TestCompiledWheelInVenv installs a compiled wheel from PyPI into a fresh
// venv of the default python and imports its C extension embedded.
func TestCompiledWheelInVenv(t *testing.T) {
	if os.Getenv(pyhosttest.PythonEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("-short: needs PyPI")
	}
	in := pyhosttest.DefaultPython(t)
	venv := filepath.Join(t.TempDir(), "venv")
	run(t, in.Executable, "-m", "venv", venv)
	pip := exec.Command(filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:", "markupsafe==3.0.2")
	if out, err := pip.CombinedOutput(); err != nil {
		t.Skipf("cannot install a wheel from PyPI here: %v\n%s", err, out)
	}
	out := pyhosttest.RunChild(t, "^TestCompiledWheelChild$", pyhosttest.PythonEnv+"="+venv)
	if !strings.Contains(out, "--- PASS: TestCompiledWheelChild") {
		t.Errorf("child did not pass:\n%s", out)
	}
}

// TestCompiledWheelChild runs in the child started by TestCompiledWheelInVenv.
func TestCompiledWheelChild(t *testing.T) {
	venv := os.Getenv(pyhosttest.PythonEnv)
	if venv == "" {
		t.Skip("run by TestCompiledWheelInVenv in a child process")
	}
	h := testHost(t)
	var m struct{ File string }
	if err := h.CallJSON(context.Background(), "hostcheck", "import_module", "markupsafe._speedups", &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.File, ".so") || !strings.HasPrefix(m.File, venv) {
		t.Errorf("markupsafe._speedups from %s, want a .so in %s", m.File, venv)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCallJSON(b *testing.B) {
	h := testHost(b)
	payload := map[string]string{"data": strings.Repeat("x", 1024-11)}
	if p, _ := json.Marshal(payload); len(p) != 1024 {
		b.Fatalf("payload is %d bytes", len(p))
	}
	ctx := context.Background()
	var out map[string]string
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.CallJSON(ctx, "hostcheck", "echo", payload, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallJSONEmpty(b *testing.B) {
	h := testHost(b)
	ctx := context.Background()
	for b.Loop() {
		if err := h.CallJSON(ctx, "hostcheck", "echo", nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

package pyhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Interpreter describes a Python executable, as that interpreter reports it.
type Interpreter struct {
	// Executable is the python the user named (a venv's bin/python stays the
	// venv's, never resolved to its base).
	Executable string `json:"executable"`
	// Version is major.minor.micro.
	Version    string `json:"version"`
	Major      int    `json:"-"`
	Minor      int    `json:"-"`
	Prefix     string `json:"prefix"`
	BasePrefix string `json:"base_prefix"`
	// LibPython is the shared library to load.
	LibPython string `json:"libpython"`
	// SitePackages lists the interpreter's site-packages directories.
	SitePackages []string `json:"site_packages"`
}

// MinMinor and MaxMinor bound the CPython 3.x versions the host supports.
const (
	MinMinor = 10
	MaxMinor = 13
)

// queryScript asks an interpreter where it is and where its libpython lives.
// -I keeps PYTHONPATH and user site-packages from changing the answer.
const queryScript = `import json, site, sys, sysconfig
g = sysconfig.get_config_var
try:
    sp = site.getsitepackages()
except Exception:
    sp = []
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix,
  "base_prefix": sys.base_prefix, "version": list(sys.version_info[:3]),
  "implementation": getattr(getattr(sys, "implementation", None), "name", "cpython"),
  "LIBDIR": g("LIBDIR"), "LDLIBRARY": g("LDLIBRARY"), "INSTSONAME": g("INSTSONAME"),
  "MULTIARCH": g("MULTIARCH"), "Py_ENABLE_SHARED": g("Py_ENABLE_SHARED"),
  "site_packages": sp}))
`

type queryResult struct {
	Executable     string   `json:"executable"`
	Prefix         string   `json:"prefix"`
	BasePrefix     string   `json:"base_prefix"`
	Version        []int    `json:"version"`
	Implementation string   `json:"implementation"`
	LibDir         *string  `json:"LIBDIR"`
	LDLibrary      *string  `json:"LDLIBRARY"`
	InstSOName     *string  `json:"INSTSONAME"`
	Multiarch      *string  `json:"MULTIARCH"`
	EnableShared   *int     `json:"Py_ENABLE_SHARED"`
	SitePackages   []string `json:"site_packages"`
}

// ResolvePython turns the user's choice into a python path: an explicit path
// (a python executable or a venv directory), else $ENGINEBENCH_PYTHON, else
// python3 on PATH.
func ResolvePython(choice string) (string, error) {
	if choice == "" {
		choice = os.Getenv("ENGINEBENCH_PYTHON")
	}
	if choice == "" {
		p, err := exec.LookPath("python3")
		if err != nil {
			return "", fmt.Errorf("no python given and python3 is not on PATH: pass --python PATH or set ENGINEBENCH_PYTHON: %w", err)
		}
		return p, nil
	}
	fi, err := os.Stat(choice)
	if err != nil {
		return "", fmt.Errorf("python %q: %w (pass the path of a python executable or of a virtualenv directory)", choice, err)
	}
	if fi.IsDir() {
		for _, name := range []string{"bin/python3", "bin/python"} {
			p := filepath.Join(choice, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("python %q is a directory without bin/python3: pass a python executable or a virtualenv directory", choice)
	}
	return choice, nil
}

// Locate asks the interpreter at python (see ResolvePython) for its version,
// prefix and libpython. It fails with a message that says how to fix the
// problem when python is not a Python, is too old or too new, or was built
// without a shared libpython.
func Locate(ctx context.Context, python string) (*Interpreter, error) {
	exe, err := ResolvePython(python)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return nil, fmt.Errorf("python %q: %w", exe, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, abs, "-I", "-c", queryScript)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%s is not a working Python interpreter: running it failed (%v): %s", abs, err, lastLine([]byte(stderr.String())))
		}
		return nil, fmt.Errorf("%s is not a runnable Python interpreter: %w", abs, err)
	}
	var q queryResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &q); err != nil || len(q.Version) != 3 {
		return nil, fmt.Errorf("%s is not a Python interpreter: asked for its configuration it printed %q", abs, firstLine(stdout.String()))
	}
	// The interpreter's own sys.executable, not the path given: a pyenv shim
	// is a shell script, and spawn children must run the real binary. A
	// venv's python reports itself, not its base.
	if q.Executable != "" {
		abs = q.Executable
	}
	in := &Interpreter{
		Executable:   abs,
		Version:      fmt.Sprintf("%d.%d.%d", q.Version[0], q.Version[1], q.Version[2]),
		Major:        q.Version[0],
		Minor:        q.Version[1],
		Prefix:       q.Prefix,
		BasePrefix:   q.BasePrefix,
		SitePackages: q.SitePackages,
	}
	if q.Implementation != "cpython" {
		return nil, fmt.Errorf("%s is %s %s, not CPython: enginebench embeds CPython 3.%d to 3.%d", abs, q.Implementation, in.Version, MinMinor, MaxMinor)
	}
	if in.Major != 3 || in.Minor < MinMinor || in.Minor > MaxMinor {
		return nil, fmt.Errorf("%s is Python %s: enginebench supports CPython 3.%d to 3.%d; pass another --python", abs, in.Version, MinMinor, MaxMinor)
	}
	if q.EnableShared == nil || *q.EnableShared == 0 {
		return nil, fmt.Errorf("%s (Python %s) was built without --enable-shared, so it has no libpython to embed: "+
			"use a shared build (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install %d.%d; Debian: apt install libpython%d.%d) "+
			"and create the venv from it", abs, in.Version, in.Major, in.Minor, in.Major, in.Minor)
	}
	lib, tried := findLibPython(q)
	if lib == "" {
		return nil, fmt.Errorf("%s (Python %s) reports a shared build but its libpython was not found (looked at %s): install libpython%d.%d",
			abs, in.Version, strings.Join(tried, ", "), in.Major, in.Minor)
	}
	in.LibPython = lib
	return in, nil
}

// findLibPython lists the places sysconfig points at, in order of trust, and
// returns the first that exists. A venv reports its base interpreter's LIBDIR.
func findLibPython(q queryResult) (string, []string) {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	libdir, multiarch := deref(q.LibDir), deref(q.Multiarch)
	var names []string
	for _, n := range []string{deref(q.InstSOName), deref(q.LDLibrary)} {
		if n != "" && strings.Contains(n, ".so") {
			names = append(names, n)
		}
	}
	names = append(names, fmt.Sprintf("libpython%d.%d.so.1.0", q.Version[0], q.Version[1]), fmt.Sprintf("libpython%d.%d.so", q.Version[0], q.Version[1]))
	var dirs []string
	if libdir != "" {
		dirs = append(dirs, libdir)
		if multiarch != "" {
			dirs = append(dirs, filepath.Join(libdir, multiarch))
		}
	}
	dirs = append(dirs, filepath.Join(q.BasePrefix, "lib"))
	var tried []string
	for _, d := range dirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			tried = append(tried, p)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, tried
			}
		}
	}
	return "", tried
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

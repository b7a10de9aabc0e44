package tokenize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ProgramArguments is what a program file gave for a sweep.
type ProgramArguments struct {
	// Source is the program file's text, as it was read.
	Source string `json:"source"`
	// Arguments holds one argument dict per program, each as JSON text.
	Arguments []string `json:"arguments"`
	// Features is what the program uses (workload.Feature*); nil when a
	// dry run could not tell.
	Features []string `json:"features"`
}

// Arguments has a child process started by cmd import the program file at
// path in python (whose venv has SGLang's frontend) and call its
// arguments(n, seed). A problem with the file (no program, a syntax error,
// the wrong count or type) comes back as an error naming the fix.
func Arguments(ctx context.Context, cmd Command, python string, env map[string]string, paths []string, path string, n int, seed int64) (*ProgramArguments, error) {
	dir, err := os.MkdirTemp("", "enginebench-program-")
	if err != nil {
		return nil, fmt.Errorf("program arguments: %w", err)
	}
	defer os.RemoveAll(dir)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("--program %s: %w", path, err)
	}
	req := Request{Python: python, Env: env, Paths: paths, Program: abs, N: n, Seed: seed, Out: filepath.Join(dir, "arguments.json")}
	reqJSON, _ := json.Marshal(req)
	reqPath := filepath.Join(dir, "request.json")
	if err := os.WriteFile(reqPath, reqJSON, 0o600); err != nil {
		return nil, fmt.Errorf("program arguments: %w", err)
	}
	c := cmd(reqPath)
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := runCtx(ctx, c); err != nil {
		return nil, fmt.Errorf("--program %s: %s", path, childError(out.String(), err))
	}
	var got ProgramArguments
	if err := readJSON(req.Out, &got); err != nil {
		return nil, err
	}
	if len(got.Arguments) != n {
		return nil, fmt.Errorf("--program %s: %d argument dicts came back, want %d", path, len(got.Arguments), n)
	}
	return &got, nil
}

// childError is the child's own message where it printed one (the last
// line starting "enginebench tokenize: "), else its exit status and last
// lines.
func childError(out string, err error) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "enginebench tokenize: "); ok {
			return strings.Join(append([]string{msg}, lines[i+1:]...), "\n")
		}
	}
	return fmt.Sprintf("%v\n%s", err, indent(lastLines(out, 15)))
}

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

// asMainEnv makes the test binary behave as the enginebench binary: the
// end-to-end tests run it as a real process (signals, exit codes, and the
// workers it re-executes as `enginebench worker`).
const asMainEnv = "ENGINEBENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(runMain(append([]string{"enginebench"}, os.Args[1:]...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// result is one finished enginebench process.
type result struct {
	code           int
	stdout, stderr string
}

// enginebench runs the CLI as a child process with the fake engines on
// PYTHONPATH and the given extra environment.
func enginebench(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return enginebenchCtx(t, context.Background(), nil, env, args...)
}

func enginebenchCtx(t *testing.T, ctx context.Context, started func(*exec.Cmd), env []string, args ...string) result {
	t.Helper()
	py := pyhosttest.DefaultPython(t)
	fakes, _ := filepath.Abs("../../pyhost/testdata/fakeengines")
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1", "PYTHONPATH="+fakes, "ENGINEBENCH_PYTHON="+py.Executable,
		"ENGINEBENCH_CACHE_DIR="+filepath.Join(os.TempDir(), "enginebench-cmd-test-cache"))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if started != nil {
		started(cmd)
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("enginebench died of %v\nstderr:\n%s", ws.Signal(), stderr.String())
		}
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestVersionAndHelp(t *testing.T) {
	r := enginebench(t, nil, "version")
	if r.code != 0 || !bytes.Contains([]byte(r.stdout), []byte("enginebench ")) {
		t.Errorf("version: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = enginebench(t, nil, "run", "--help")
	for _, flag := range []string{"--engine", "--model", "--batch-sizes", "--engine-arg", "--resume", "--batch-timeout"} {
		if !bytes.Contains([]byte(r.stdout), []byte(flag)) {
			t.Errorf("run --help lacks %s", flag)
		}
	}
	r = enginebench(t, nil, "worker")
	if r.code != exitUsage {
		t.Errorf("worker by hand: exit %d, want %d (%s)", r.code, exitUsage, r.stderr)
	}
}

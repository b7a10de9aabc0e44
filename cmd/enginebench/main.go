// Command enginebench measures LLM inference engines offline, in-process:
// the same token-ID workload through vLLM, SGLang and a Hugging Face
// transformers baseline, one worker process per engine, with one timing
// method and one metrics path for all of them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a run finished but something in it failed
	exitUsage   = 2 // bad flags or input: nothing was run
	// exitInterrupted: stopped by Ctrl-C; what was measured is on disk.
	exitInterrupted = 130
)

func main() {
	os.Exit(runMain(os.Args, os.Stdout, os.Stderr))
}

// runMain is main without os.Exit, so deferred cleanup always runs and tests can
// call it.
func runMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := interruptible(stderr)
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "enginebench:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "enginebench:", err)
	return exitFailure
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "enginebench",
		Usage:     "measure LLM inference engines offline, in-process, on identical token-ID prompts",
		Version:   versionString(),
		Writer:    stdout,
		ErrWriter: stderr,
		Suggest:   true,
		// urfave/cli's default handler calls os.Exit inside Run, skipping
		// every deferred cleanup; exit codes go through main instead.
		ExitErrHandler: func(*cli.Context, error) {},
		// --engine-arg values hold commas (Python literals): never split them.
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			runCommand(),
			reportCommand(),
			workloadCommand(),
			envCommand(),
			versionCommand(),
			workerCommand(),
			tokenizeCommand(),
		},
	}
}

// usageError marks bad input: exit status 2, nothing was run.
func usageError(format string, a ...any) error {
	return cli.Exit(fmt.Sprintf(format, a...), exitUsage)
}

// interruptible returns a context cancelled by the first Ctrl-C (or
// SIGTERM): the running engine call is interrupted, the engine shut down and
// everything measured kept. A second one ends the process at once; results
// already written are on disk, and workers die with their parent
// (PR_SET_PDEATHSIG).
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "enginebench: interrupted: stopping the running engine call (press Ctrl-C again to quit at once)")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "enginebench: quitting now")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

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
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without os.Exit, so deferred cleanup always runs and tests can
// call it.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
			envCommand(),
			versionCommand(),
			workerCommand(),
		},
	}
}

// usageError marks bad input: exit status 2, nothing was run.
func usageError(format string, a ...any) error {
	return cli.Exit(fmt.Sprintf(format, a...), exitUsage)
}

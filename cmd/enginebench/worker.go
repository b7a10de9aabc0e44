package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/tokenize"
	"github.com/enginebench/enginebench/offline/worker"
)

// workerCommand is the hidden subcommand the parent starts once per engine:
// the engine runs in-process here, in the embedded interpreter. It talks to
// the parent over file descriptors 3 and 4; its stdout and stderr go to the
// engine's log file.
func workerCommand() *cli.Command {
	return &cli.Command{
		Name:   "worker",
		Usage:  "run one engine for a parent enginebench (internal)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			if !isPipe(protocol.RequestFD) || !isPipe(protocol.EventFD) {
				return usageError("the worker subcommand is started by `enginebench run`, not by hand")
			}
			req := os.NewFile(protocol.RequestFD, "requests")
			ev := os.NewFile(protocol.EventFD, "events")
			// The parent forwards Ctrl-C as SIGINT; cancelling interrupts the
			// running Python call, and the worker still reports and closes.
			ctx, stop := interruptible(c.App.ErrWriter)
			defer stop()
			err := worker.Serve(ctx, protocol.NewConn(req, ev), workerOptions())
			if err != nil {
				fmt.Fprintln(c.App.ErrWriter, "enginebench worker:", err)
				return cli.Exit("", exitFailure)
			}
			return nil
		},
	}
}

// tokenizeCommand is the hidden subcommand that tokenizes a dataset's texts
// once, in an engine's python (offline/tokenize): the parent never embeds
// Python itself.
func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "tokenize",
		Usage:     "tokenize a dataset's texts for a parent enginebench (internal)",
		ArgsUsage: "REQUEST",
		Hidden:    true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("the tokenize subcommand is started by `enginebench run` and `workload prepare`, not by hand")
			}
			ctx, stop := interruptible(c.App.ErrWriter)
			defer stop()
			if err := tokenize.Serve(ctx, c.Args().First()); err != nil {
				fmt.Fprintln(c.App.ErrWriter, "enginebench tokenize:", err)
				return cli.Exit("", exitFailure)
			}
			return nil
		},
	}
}

// isPipe reports whether fd is an open pipe, as the parent's protocol pipes
// are.
func isPipe(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}

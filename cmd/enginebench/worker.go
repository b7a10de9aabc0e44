package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/protocol"
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

// isPipe reports whether fd is an open pipe, as the parent's protocol pipes
// are.
func isPipe(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}

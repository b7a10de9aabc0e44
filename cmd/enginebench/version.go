package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

func versionString() string {
	if commit == "" {
		return version
	}
	return version + " (" + commit + ")"
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "enginebench %s %s/%s %s\n", versionString(), runtime.GOOS, runtime.GOARCH, runtime.Version())
			return nil
		},
	}
}

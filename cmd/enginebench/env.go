package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/pyhost"
)

// envReport is what the embedded interpreter reports about itself.
type envReport struct {
	Executable   string   `json:"executable"`
	Version      string   `json:"version"`
	Prefix       string   `json:"prefix"`
	BasePrefix   string   `json:"base_prefix"`
	SitePackages []string `json:"site_packages"`
	Packages     []struct {
		Name         string   `json:"name"`
		Distribution *string  `json:"distribution"`
		Version      *string  `json:"version"`
		Imports      *bool    `json:"imports"`
		Error        *string  `json:"error"`
		ImportS      *float64 `json:"import_s"`
	} `json:"packages"`
	CUDA *struct {
		TorchCUDA *string `json:"torch_cuda"`
		Available bool    `json:"available"`
	} `json:"cuda"`
}

func envCommand() *cli.Command {
	return &cli.Command{
		Name:  "env",
		Usage: "show what an interpreter offers: libpython, paths, and the engines it can import",
		Description: "Starts the embedded interpreter for PYTHON (a python executable or a virtualenv) and, from inside it,\n" +
			"reports its version, prefix, site-packages and whether torch, transformers, vllm and sglang import there.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "python", Usage: "python executable or virtualenv directory", EnvVars: []string{"ENGINEBENCH_PYTHON"}},
			&cli.BoolFlag{Name: "no-import", Usage: "read package metadata only; do not import the packages (fast)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			interp, err := pyhost.Locate(c.Context, c.String("python"))
			if err != nil {
				return usageError("%v", err)
			}
			h, err := pyhost.Start(c.Context, pyhost.Config{Python: interp.Executable})
			if err != nil {
				return err
			}
			defer h.Close(c.Context)
			var raw json.RawMessage
			if err := h.CallJSON(c.Context, "enginebench_host.envinfo", "info", map[string]bool{"import": !c.Bool("no-import")}, &raw); err != nil {
				return err
			}
			if c.Bool("json") {
				out := map[string]any{"libpython": interp.LibPython, "report": raw}
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintln(c.App.Writer, string(b))
				return nil
			}
			var r envReport
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decoding the interpreter's report: %w", err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "interpreter    %s\n", r.Executable)
			fmt.Fprintf(w, "version        %s\n", r.Version)
			fmt.Fprintf(w, "libpython      %s\n", interp.LibPython)
			fmt.Fprintf(w, "prefix         %s\n", r.Prefix)
			if r.BasePrefix != r.Prefix {
				fmt.Fprintf(w, "base prefix    %s\n", r.BasePrefix)
			}
			fmt.Fprintf(w, "site-packages  %s\n", strings.Join(r.SitePackages, ", "))
			if r.CUDA != nil {
				fmt.Fprintf(w, "torch CUDA     %s (GPU available: %v)\n", deref(r.CUDA.TorchCUDA, "none (CPU build)"), r.CUDA.Available)
			}
			for _, p := range r.Packages {
				status := "not installed"
				switch {
				case p.Version != nil && p.Imports == nil:
					status = *p.Version + " (not imported)"
				case p.Imports != nil && *p.Imports:
					status = fmt.Sprintf("%s (imports in %.1fs)", *p.Version, *p.ImportS)
				case p.Imports != nil:
					status = fmt.Sprintf("%s installed but fails to import: %s", *p.Version, deref(p.Error, "?"))
				}
				fmt.Fprintf(w, "%-14s %s\n", p.Name, status)
			}
			return nil
		},
	}
}

func deref(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

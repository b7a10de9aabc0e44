package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/report"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/run"
)

// Files the run writes next to report.txt.
const (
	summaryCSV  = "summary.csv"
	summaryJSON = "summary.json"
	chartSVG    = "throughput.svg"
	chartPDF    = "throughput.pdf"
	tradeoffSVG = "tradeoff.svg"
	tradeoffPDF = "tradeoff.pdf"
	parityJSON  = "parity.json"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "re-render a run's comparison from its output directory (no Python, no GPU)",
		ArgsUsage: "OUT_DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table, csv or json"},
			&cli.StringFlag{Name: "chart", Usage: "also draw throughput against batch size to `FILE` (.svg, .pdf, .png)"},
			&cli.StringFlag{Name: "baseline", Usage: "engine `NAME` the ratio table divides by (default: the run's --baseline, else its first engine)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("report takes one argument, the --out directory of a run")
			}
			m, rows, skipped, err := readRun(c.Args().First())
			if err != nil {
				return usageError("%v", err)
			}
			if skipped != "" {
				fmt.Fprintln(c.App.ErrWriter, "enginebench:", skipped)
			}
			if b := c.String("baseline"); b != "" {
				var names []string
				for _, e := range m.Engines {
					names = append(names, e.Name)
				}
				if !slices.Contains(names, b) {
					return usageError("--baseline %s: the run has no such engine (it has %s)", b, strings.Join(names, ", "))
				}
				m.Baseline = b
			}
			if path := c.String("chart"); path != "" {
				if err := report.Chart(path, m, rows); err != nil {
					return err
				}
			}
			switch c.String("format") {
			case "table":
				return report.Table(c.App.Writer, m, rows)
			case "csv":
				return report.CSV(c.App.Writer, m, rows)
			case "json":
				return report.JSON(c.App.Writer, m, rows)
			}
			return usageError("--format %q: use table, csv or json", c.String("format"))
		},
	}
}

// readRun reads a run's manifest and rows. skipped, when not empty, says how
// many lines of the results file were not whole rows and were left out.
func readRun(out string) (m *results.Manifest, rows []results.Row, skipped string, err error) {
	m, err = results.ReadManifest(filepath.Join(out, run.ManifestFile))
	if err != nil {
		return nil, nil, "", err
	}
	rows, n, err := results.Read(filepath.Join(out, run.ResultsFile))
	if err != nil {
		return nil, nil, "", err
	}
	if n > 0 {
		skipped = fmt.Sprintf("%s: skipped %d line(s) that are not whole JSON rows (a write cut short?); `enginebench run --resume` sets them aside and measures their cells again", filepath.Join(out, run.ResultsFile), n)
	}
	return m, rows, skipped, nil
}

// writeReport renders the table from what is on disk, so a resumed run's
// report covers every cell, and writes the CSV and JSON summaries beside it.
func writeReport(stdout io.Writer, out string) error {
	m, rows, skipped, err := readRun(out)
	if err != nil {
		return err
	}
	if skipped != "" {
		fmt.Fprintln(stdout, "enginebench:", skipped)
	}
	outputs := []struct {
		name  string
		write func(io.Writer) error
	}{
		{run.ReportFile, func(w io.Writer) error { return report.Table(io.MultiWriter(stdout, w), m, rows) }},
		{summaryCSV, func(w io.Writer) error { return report.CSV(w, m, rows) }},
		{summaryJSON, func(w io.Writer) error { return report.JSON(w, m, rows) }},
		{parityJSON, func(w io.Writer) error { return report.ParityJSON(w, m, rows) }},
	}
	for _, o := range outputs {
		f, err := os.Create(filepath.Join(out, o.name))
		if err != nil {
			return fmt.Errorf("writing %s: %w", o.name, err)
		}
		if err := o.write(f); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", o.name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", o.name, err)
		}
	}
	for _, name := range []string{chartSVG, chartPDF} {
		if err := report.Chart(filepath.Join(out, name), m, rows); err != nil {
			return err
		}
	}
	for _, name := range []string{tradeoffSVG, tradeoffPDF} {
		if err := report.TradeoffChart(filepath.Join(out, name), m, rows); err != nil && !errors.Is(err, report.ErrNoLatency) {
			return err
		}
	}
	return nil
}

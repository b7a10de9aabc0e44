package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/stats"
)

// Chart draws output throughput against batch size, one line per engine,
// medians with min–max error bars, on a log2 batch axis, and saves it to
// path; the extension picks the format (.svg, .pdf, .png, .eps). Vector
// formats embed their fonts, so the figure is reproducible without the
// system's fonts.
func Chart(path string, m *results.Manifest, rows []results.Row) (err error) {
	// gonum/plot panics on data it cannot draw; a chart is never worth a
	// run: the caller gets an error and the other result files stand.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart %s: %v", path, r)
		}
	}()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".pdf", ".png", ".eps":
	default:
		return fmt.Errorf("chart %s: use .svg, .pdf, .png or .eps", path)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s", filepath.Base(m.Model.Path), m.Workload.Lengths())
	p.X.Label.Text = "batch size"
	p.Y.Label.Text = "output tokens/s (median, min–max)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = batchTicks(m.Workload.BatchSizes)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.YOffs = -vg.Points(4)
	byEngine := map[string][]CellStats{}
	for _, c := range CellStatsOf(m, rows) {
		if len(c.Rows) > 0 {
			byEngine[c.Engine] = append(byEngine[c.Engine], c)
		}
	}
	for i, e := range m.Engines {
		cells := byEngine[e.Name]
		if len(cells) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(cells))
		errs := make(plotter.YErrors, len(cells))
		for j, c := range cells {
			pts[j] = plotter.XY{X: float64(c.BatchSize), Y: c.OutputTPS.Median}
			errs[j].Low, errs[j].High = c.OutputTPS.Median-c.OutputTPS.Min, c.OutputTPS.Max-c.OutputTPS.Median
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		col := palette[i%len(palette)]
		line.Color, points.Color = col, col
		points.Shape = shapes[i%len(shapes)]
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		bars.Color = col
		p.Add(line, points, bars)
		p.Legend.Add(e.Name, line, points)
	}
	// The batch axis spans the swept sizes with a margin of a quarter of an
	// octave each side. Left to itself, plot widens a single size b to
	// [b-1, b+1], and the log scale panics at 0.
	if lo, hi := batchRange(m.Workload.BatchSizes); lo > 0 {
		p.X.Min, p.X.Max = lo/math.Pow(2, 0.25), hi*math.Pow(2, 0.25)
	}
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("saving chart %s: %w", path, err)
	}
	return nil
}

// palette is the Okabe–Ito colour-blind-safe palette.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
}

var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}}

// batchRange is the smallest and the largest batch size, 0, 0 if none.
func batchRange(sizes []int) (lo, hi float64) {
	for i, b := range sizes {
		if x := float64(b); i == 0 || x < lo {
			lo = x
		}
		if x := float64(b); x > hi {
			hi = x
		}
	}
	return lo, hi
}

// batchTicks labels exactly the swept batch sizes.
type batchTicks []int

func (b batchTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for _, v := range b {
		if x := float64(v); x >= lo*(1-1e-9) && x <= hi*(1+1e-9) && !math.IsInf(x, 0) {
			t = append(t, plot.Tick{Value: x, Label: fmt.Sprint(v)})
		}
	}
	return t
}

// TradeoffChart draws each engine's total output tokens/s against its
// per-user decode rate (median over requests of output tokens ÷ end-to-end
// latency), one line per engine through its batch sizes, each point labelled
// with its batch size: the throughput–interactivity trade-off engine
// comparisons are read by. Engines that report no per-request latency
// (transformers) are left out; with none at all it returns ErrNoLatency.
func TradeoffChart(path string, m *results.Manifest, rows []results.Row) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart %s: %v", path, r)
		}
	}()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".pdf", ".png", ".eps":
	default:
		return fmt.Errorf("chart %s: use .svg, .pdf, .png or .eps", path)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s", filepath.Base(m.Model.Path), m.Workload.Lengths())
	p.X.Label.Text = "per-user output tokens/s (median request)"
	p.Y.Label.Text = "total output tokens/s (median batch)"
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	byEngine := map[string]plotter.XYs{}
	labels := map[string][]string{}
	for _, c := range CellStatsOf(m, rows) {
		user := latencyOf(c).user
		if len(user) == 0 {
			continue
		}
		med, err := stats.Median(user)
		if err != nil {
			continue
		}
		byEngine[c.Engine] = append(byEngine[c.Engine], plotter.XY{X: med, Y: c.OutputTPS.Median})
		labels[c.Engine] = append(labels[c.Engine], fmt.Sprintf("bs %d", c.BatchSize))
	}
	if len(byEngine) == 0 {
		return ErrNoLatency
	}
	// From zero, with room right of the last point for its label; the
	// legend top left, where a trade-off curve rarely runs.
	var xMax, yMax float64
	for _, pts := range byEngine {
		for _, pt := range pts {
			xMax, yMax = math.Max(xMax, pt.X), math.Max(yMax, pt.Y)
		}
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, xMax*1.2, 0, yMax*1.1
	p.Legend.Left = true
	for i, e := range m.Engines {
		pts := byEngine[e.Name]
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		col := palette[i%len(palette)]
		line.Color, points.Color = col, col
		points.Shape = shapes[i%len(shapes)]
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels[e.Name]})
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		for j := range lab.TextStyle {
			lab.TextStyle[j].Color = col
			lab.TextStyle[j].XAlign = draw.XLeft
		}
		lab.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		p.Add(line, points, lab)
		p.Legend.Add(e.Name, line, points)
	}
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("saving chart %s: %w", path, err)
	}
	return nil
}

// ErrNoLatency is returned by TradeoffChart for a run whose engines
// reported no per-request latency.
var ErrNoLatency = errors.New("no engine reported per-request latency")

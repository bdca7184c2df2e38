package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one server's closed-loop results by connection count.
type series struct {
	name  string
	conns []int
	rate  []float64 // exchanges per second
	p99   []float64 // milliseconds
}

// writeChart draws exchanges/s and p99 against connections for each
// series, side by side, to path (.svg or .png by its extension).
func writeChart(path, title string, all []series) error {
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}}
	panel := func(ylabel string, y func(s series) []float64, legendTop bool) (*plot.Plot, error) {
		p := plot.New()
		p.X.Label.Text = "connections (closed loop)"
		p.Y.Label.Text = ylabel
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = connTicks(all)
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		for i, s := range all {
			pts := make(plotter.XYs, len(s.conns))
			for j := range s.conns {
				pts[j].X, pts[j].Y = float64(s.conns[j]), y(s)[j]
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			line.Color, points.Color = colors[i%len(colors)], colors[i%len(colors)]
			line.Width = vg.Points(1.5)
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add(s.name, line, points)
		}
		p.Legend.Top, p.Legend.Left = legendTop, legendTop
		return p, nil
	}
	rate, err := panel("exchanges/s", func(s series) []float64 { return s.rate }, false)
	if err != nil {
		return err
	}
	rate.Title.Text = "throughput"
	p99, err := panel("p99 latency (ms)", func(s series) []float64 { return s.p99 }, true)
	if err != nil {
		return err
	}
	p99.Title.Text = "p99 latency"

	const w, h = 10 * vg.Inch, 4 * vg.Inch
	var c draw.Canvas
	var save func(*os.File) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		sc := vgsvg.New(w, h)
		c, save = draw.New(sc), func(f *os.File) error { _, err := sc.WriteTo(f); return err }
	case ".png":
		ic := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
		c, save = draw.New(ic), func(f *os.File) error { _, err := ic.WriteTo(f); return err }
	default:
		return fmt.Errorf("chart %s: the name must end in .svg or .png", path)
	}
	// A title strip above two panels.
	top := draw.Crop(c, 0, 0, 0, -vg.Points(22))
	heading := rate.Title.TextStyle
	heading.XAlign, heading.YAlign = draw.XCenter, draw.YTop
	c.FillText(heading, vg.Point{X: w / 2, Y: h - vg.Points(4)}, title)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(16), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	plots := [][]*plot.Plot{{rate, p99}}
	canvases := plot.Align(plots, tiles, top)
	rate.Draw(canvases[0][0])
	p99.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := save(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// connTicks marks each measured connection count on the log axis.
func connTicks(all []series) plot.ConstantTicks {
	seen := map[int]bool{}
	var ticks plot.ConstantTicks
	for _, s := range all {
		for _, c := range s.conns {
			if !seen[c] {
				seen[c] = true
				ticks = append(ticks, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
			}
		}
	}
	return ticks
}

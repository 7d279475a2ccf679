// The scale curve's plot: time to all Ready and the manager's memory against N, as SVG.

package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// xy is a point of a plot, in data units.
type xy struct{ x, y float64 }

// plotSeries is one line of a plot.
type plotSeries struct {
	name, color string
	dashed      bool
	pts         []xy
}

// plotPanel is one chart: its titles and lines, drawn against axes from 0, and an optional
// horizontal reference line (a target) at refY.
type plotPanel struct {
	title, xLabel, yLabel string
	series                []plotSeries
	refY                  float64
	refLabel              string
}

// Plot geometry, in pixels.
const (
	panelW, panelH           = 380.0, 300.0
	marginL, marginR         = 58.0, 14.0
	marginT, marginB         = 62.0, 46.0
	plotFont                 = `font-family="sans-serif"`
	ticks                    = 5
	pointRadius              = 3.5
	legendLine, legendHeight = 18.0, 14.0
)

// scaleSVG draws the scale curve: time to all Ready (operator and floor) and the manager's
// memory (RSS and Go heap) against the number of resources. Points that failed are left out.
func scaleSVG(points []scalePoint) string {
	var ready, floor, rss, heap []xy
	for _, p := range points {
		if !p.ok() {
			continue
		}
		n := float64(p.n)
		ready = append(ready, xy{n, p.create.ready.Seconds()})
		floor = append(floor, xy{n, p.floor.duration.Seconds()})
		rss = append(rss, xy{n, float64(p.rss) / (1 << 20)})
		heap = append(heap, xy{n, p.heap / (1 << 20)})
	}
	return svgOf([]plotPanel{
		{title: "Time to all Ready", xLabel: "resources", yLabel: "seconds", series: []plotSeries{
			{name: "operator", color: "#1f77b4", pts: ready},
			{name: "floor (no operator)", color: "#7f7f7f", dashed: true, pts: floor},
		}},
		{title: "Manager memory", xLabel: "resources", yLabel: "MiB", refY: 64, refLabel: "64 MiB target (at 1,100)", series: []plotSeries{
			{name: "RSS", color: "#d62728", pts: rss},
			{name: "Go heap in use", color: "#ff7f0e", dashed: true, pts: heap},
		}},
	})
}

// svgOf lays the panels out side by side in one SVG document.
func svgOf(panels []plotPanel) string {
	var b strings.Builder
	w := panelW * float64(len(panels))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n", w, panelH, w, panelH)
	fmt.Fprintf(&b, `<rect width="%.0f" height="%.0f" fill="white"/>`+"\n", w, panelH)
	for i, p := range panels {
		p.draw(&b, float64(i)*panelW)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// draw writes the panel with its left edge at x0.
func (p plotPanel) draw(b *strings.Builder, x0 float64) {
	maxX, maxY := 0.0, 0.0
	for _, s := range p.series {
		for _, pt := range s.pts {
			maxX, maxY = math.Max(maxX, pt.x), math.Max(maxY, pt.y)
		}
	}
	maxX, maxY = niceCeil(maxX), niceCeil(math.Max(maxY, p.refY))
	left, right, top, bottom := x0+marginL, x0+panelW-marginR, marginT, panelH-marginB
	px := func(v float64) float64 { return left + (right-left)*v/maxX }
	py := func(v float64) float64 { return bottom - (bottom-top)*v/maxY }
	fmt.Fprintf(b, `<g %s font-size="11">`+"\n", plotFont)
	fmt.Fprintf(b, `<text x="%.1f" y="16" font-size="13" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(p.title))
	for i := 0; i <= ticks; i++ {
		xv, yv := maxX*float64(i)/ticks, maxY*float64(i)/ticks
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, py(yv), right, py(yv))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, py(yv)+4, tickLabel(yv))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(xv), bottom+15, tickLabel(xv))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, bottom, right, bottom)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top, left, bottom)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (left+right)/2, panelH-8, html.EscapeString(p.xLabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		x0+14, (top+bottom)/2, x0+14, (top+bottom)/2, html.EscapeString(p.yLabel))
	if p.refY > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2ca02c" stroke-dasharray="2,3"/>`+"\n", left, py(p.refY), right, py(p.refY))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#2ca02c">%s</text>`+"\n", right, py(p.refY)-4, html.EscapeString(p.refLabel))
	}
	for i, s := range p.series {
		s.draw(b, px, py)
		ly := 30 + float64(i)*legendHeight
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n",
			left, ly, left+legendLine, ly, s.color, dash(s.dashed))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+legendLine+4, ly+4, html.EscapeString(s.name))
	}
	b.WriteString("</g>\n")
}

// draw writes the series' line and points, each point with its value as a tooltip.
func (s plotSeries) draw(b *strings.Builder, px, py func(float64) float64) {
	if len(s.pts) == 0 {
		return
	}
	var coords []string
	for _, pt := range s.pts {
		coords = append(coords, fmt.Sprintf("%.1f,%.1f", px(pt.x), py(pt.y)))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), s.color, dash(s.dashed))
	for _, pt := range s.pts {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"><title>%s: %g at %g</title></circle>`+"\n",
			px(pt.x), py(pt.y), pointRadius, s.color, html.EscapeString(s.name), math.Round(pt.y*10)/10, pt.x)
	}
}

func dash(dashed bool) string {
	if dashed {
		return ` stroke-dasharray="5,4"`
	}
	return ""
}

// niceCeil is the smallest round value (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
// ten) at least v (1 for none), so that the axis's ticks fall on round values.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel prints a tick value: 10000 as 10k.
func tickLabel(v float64) string {
	if v >= 1000 && math.Mod(v, 1000) == 0 {
		return fmt.Sprintf("%gk", v/1000)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}

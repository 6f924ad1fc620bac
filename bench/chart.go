package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colText       = color.RGBA{20, 20, 20, 255}
	colMuted      = color.RGBA{120, 120, 120, 255}
	colGrid       = color.RGBA{225, 225, 225, 255}
	colAxis       = color.RGBA{60, 60, 60, 255}
	colOne        = color.RGBA{66, 133, 244, 255} // one at a time
	colMany       = color.RGBA{244, 160, 0, 255}  // many goroutines
	colWhisker    = color.RGBA{30, 30, 30, 255}
	colPolyrpc    = color.RGBA{232, 240, 254, 255} // row shading of polyrpc's systems
)

// renderChart draws the small call's calls/s per system, one at a time and
// from many goroutines, as horizontal bars with min–max whiskers, and
// returns the PNG.
func renderChart(res *results, goroutines int) ([]byte, error) {
	const (
		width    = 1000
		left     = 240 // system names, up to 32 characters
		right    = 70  // room for the last value label
		top      = 70
		rowH     = 36
		barH     = 13
		bottom   = 50
		charW    = 7
		baseline = 10 // from a text's top to its baseline, basicfont 7x13
	)
	var rows []*entry
	for _, e := range res.entries {
		if e.err != nil || e.cells[callAdd] != nil {
			rows = append(rows, e)
		}
	}
	height := top + len(rows)*rowH + bottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), colBackground)

	maxRate := 0.0
	for _, e := range rows {
		for _, m := range []mode{modeOne, modeMany} {
			if s := e.rate(callAdd, m); s.ok() {
				maxRate = math.Max(maxRate, s.max)
			}
		}
	}
	step := niceStep(maxRate / 6)
	axisMax := math.Ceil(maxRate/step) * step
	if axisMax == 0 {
		axisMax, step = 1, 1
	}
	plotW := width - left - right
	xOf := func(v float64) int { return left + int(v/axisMax*float64(plotW)) }

	text(img, 10, 8+baseline, colText, "polyrpc side by side - small call (add two int64): calls/s, median of rounds, whiskers min-max")
	fill(img, image.Rect(left, 34, left+12, 46), colOne)
	text(img, left+18, 34+baseline, colText, "1 at a time")
	fill(img, image.Rect(left+130, 34, left+142, 46), colMany)
	text(img, left+148, 34+baseline, colText, fmt.Sprintf("%d goroutines sharing one client", goroutines))

	// grid and axis
	plotBottom := top + len(rows)*rowH
	for i, e := range rows {
		if strings.HasPrefix(e.sys.name, "polyrpc") {
			y := top + i*rowH
			fill(img, image.Rect(0, y, width, y+rowH), colPolyrpc)
		}
	}
	for v := 0.0; v <= axisMax+step/2; v += step {
		x := xOf(v)
		fill(img, image.Rect(x, top-4, x+1, plotBottom), colGrid)
		label := tickLabel(v)
		text(img, x-len(label)*charW/2, plotBottom+6+baseline, colText, label)
	}
	fill(img, image.Rect(left, top-4, left+1, plotBottom), colAxis)
	fill(img, image.Rect(left, plotBottom, left+plotW, plotBottom+1), colAxis)
	text(img, left+plotW/2-len("calls/s")*charW/2, plotBottom+24+baseline, colText, "calls/s")

	for i, e := range rows {
		y := top + i*rowH
		name := ascii(e.sys.name)
		text(img, left-8-len(name)*charW, y+rowH/2-7+baseline, colText, name)
		if why := e.problem(callAdd); why != "" {
			msg := ascii(why)
			if len(msg) > (plotW-10)/charW {
				msg = msg[:(plotW-10)/charW-3] + "..."
			}
			text(img, left+6, y+rowH/2-7+baseline, colMuted, msg)
			continue
		}
		for j, m := range []mode{modeOne, modeMany} {
			s := e.rate(callAdd, m)
			by := y + 4 + j*(barH+2)
			if !s.ok() {
				continue
			}
			col := colOne
			if m == modeMany {
				col = colMany
			}
			fill(img, image.Rect(left+1, by, xOf(s.med), by+barH), col)
			// whisker from min to max
			mid := by + barH/2
			x0, x1 := xOf(s.min), xOf(s.max)
			fill(img, image.Rect(x0, mid, x1+1, mid+1), colWhisker)
			fill(img, image.Rect(x0, by+2, x0+1, by+barH-2), colWhisker)
			fill(img, image.Rect(x1, by+2, x1+1, by+barH-2), colWhisker)
			text(img, max(xOf(s.med), x1)+4, by+baseline, colText, fmtRate(s.med))
		}
	}

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return buf.Bytes(), nil
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// text draws s with its baseline at y.
func text(img *image.RGBA, x, y int, c color.Color, s string) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// ascii replaces what the bitmap font cannot draw.
func ascii(s string) string {
	r := strings.NewReplacer("→", "->", "×", "x", "µ", "u", "–", "-", "—", "-", "…", "...")
	s = r.Replace(s)
	var b strings.Builder
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel writes an axis value briefly: 0, 500, 20k, 1.5M.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

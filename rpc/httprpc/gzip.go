package httprpc

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// defaultCompressAt is a Handler's default WithCompressThreshold: below a
// kilobyte, gzip saves less than a TCP segment and costs more time than it
// saves on a fast network.
const defaultCompressAt = 1 << 10

// compressNever is the threshold at which nothing is compressed.
const compressNever = math.MaxInt

// coding is a content coding (RFC 9110, section 8.4.1) that httprpc reads.
type coding uint8

const (
	identity coding = iota
	codingGzip
	codingDeflate
	codingOther // any other, or several
)

// String names c as it appears in Content-Encoding.
func (c coding) String() string {
	switch c {
	case identity:
		return "identity"
	case codingGzip:
		return "gzip"
	case codingDeflate:
		return "deflate"
	}
	return "other"
}

// Field values that requests and responses share, never modified.
var (
	gzipField     = []string{"gzip"}
	varyField     = []string{"Accept-Encoding"}
	acceptCodings = []string{"gzip, deflate"}
)

// contentCoding returns the coding that the Content-Encoding field values
// vs name: identity for none. Several codings applied one after the other are
// codingOther; identity, a no-op, is skipped.
func contentCoding(vs []string) coding {
	c := identity
	for _, v := range vs {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			name = strings.Trim(name, " \t")
			var next coding
			switch {
			case name == "", strings.EqualFold(name, "identity"):
				continue
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				next = codingGzip
			case strings.EqualFold(name, "deflate"):
				next = codingDeflate
			default:
				return codingOther
			}
			if c != identity {
				return codingOther // stacked codings: nobody sends them
			}
			c = next
		}
	}
	return c
}

// acceptedCodings reads Accept-Encoding field values (RFC 9110, section
// 12.5.3) for the two codings a Handler may answer in: the weight, in
// thousandths, that the client gives gzip and identity. A coding not listed
// takes the weight of "*"; without "*", gzip is not acceptable, and identity
// is, but least of all (weight 1): "gzip;q=0.5" still asks for gzip. An
// element whose weight cannot be read is ignored.
func acceptedCodings(vs []string) (gzipQ, identityQ int) {
	gzipQ, identityQ, anyQ := -1, -1, -1
	for _, v := range vs {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(elem, ";")
			name = strings.Trim(name, " \t")
			q, ok := qValue(params)
			if !ok || name == "" {
				continue
			}
			switch {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case strings.EqualFold(name, "identity"):
				identityQ = max(identityQ, q)
			case name == "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = max(anyQ, 0)
	}
	if identityQ < 0 {
		identityQ = anyQ
		if identityQ < 0 {
			identityQ = 1
		}
	}
	return gzipQ, identityQ
}

// qValue reads the weight among an Accept-Encoding element's parameters
// (";q=0.5"), in thousandths: 1000 without one.
func qValue(params string) (int, bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.Trim(p, " \t"), "=")
		if !strings.EqualFold(strings.TrimRight(k, " \t"), "q") {
			continue
		}
		// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
		v = strings.TrimLeft(v, " \t")
		if v == "" || v[0] != '0' && v[0] != '1' {
			return 0, false
		}
		q := int(v[0]-'0') * 1000
		if rest := v[1:]; rest != "" {
			if rest[0] != '.' || len(rest) > 4 {
				return 0, false
			}
			scale := 100
			for _, d := range []byte(rest[1:]) {
				if d < '0' || d > '9' {
					return 0, false
				}
				q += int(d-'0') * scale
				scale /= 10
			}
		}
		if q > 1000 {
			return 0, false
		}
		return q, true
	}
	return 1000, true
}

// inflater decodes one compressed message; inflaters are pooled, since each
// holds a window of 32 KiB and its Huffman tables.
type inflater struct {
	br   *bufio.Reader
	gz   gzip.Reader
	zl   io.ReadCloser // a zlib reader, once one was needed
	fl   io.ReadCloser // a raw deflate reader, once one was needed
	used io.ReadCloser // the decoder of the message being read
}

var inflaters = sync.Pool{New: func() any { return &inflater{br: bufio.NewReaderSize(nil, 4<<10)} }}

// inflate returns a pooled decoder of r in coding c (gzip or deflate),
// having read its header. In deflate, the zlib format that RFC 9110 names, a
// raw deflate stream is read too, as browsers do, since some servers and
// clients have sent one under that name. The caller returns the decoder
// with release.
func inflate(r io.Reader, c coding) (*inflater, error) {
	z := inflaters.Get().(*inflater)
	z.br.Reset(r)
	var err error
	switch c {
	case codingGzip:
		if br, ok := r.(flate.Reader); ok {
			err = z.gz.Reset(br) // a body in memory: no buffer needed
		} else {
			err = z.gz.Reset(z.br)
		}
		z.used = &z.gz
	default:
		// A zlib header: CM 8 (deflate), and a check sum of the first two
		// bytes; a raw stream fails that test 30 times out of 31 (its
		// first bits are a block's header).
		h, _ := z.br.Peek(2)
		if len(h) == 2 && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			if z.zl == nil {
				z.zl, err = zlib.NewReader(z.br)
			} else {
				err = z.zl.(zlib.Resetter).Reset(z.br, nil)
			}
			z.used = z.zl
		} else {
			if z.fl == nil {
				z.fl = flate.NewReader(z.br)
			} else {
				err = z.fl.(flate.Resetter).Reset(z.br, nil)
			}
			z.used = z.fl
		}
	}
	if err != nil {
		z.release()
		return nil, err
	}
	return z, nil
}

func (z *inflater) Read(p []byte) (int, error) { return z.used.Read(p) }

// Close does nothing: see release.
func (z *inflater) Close() error { return nil }

// release returns z to the pool, dropping its source.
func (z *inflater) release() {
	z.br.Reset(nil)
	z.used = nil
	inflaters.Put(z)
}

// deflater gzips messages into a buffer; deflaters are pooled, since each
// holds a compressor of several hundred kilobytes.
type deflater struct {
	gz  *gzip.Writer
	out appender
}

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// gzipLevel is the level messages are gzipped at: BestSpeed compresses JSON
// about as well as the default level does (a ratio of 0.52 against 0.53 for
// a kilobyte of numbers) in a third of the time (7.5 µs against 19 µs).
const gzipLevel = gzip.BestSpeed

// deflaters keeps up to GOMAXPROCS deflaters from one use to the next,
// where a sync.Pool would drop them at every other collection: under a load
// of large replies, that is often, and a deflater costs more to make than
// to use on a kilobyte.
var deflaters = make(chan *deflater, runtime.GOMAXPROCS(0))

func getDeflater() *deflater {
	select {
	case d := <-deflaters:
		return d
	default:
		d := new(deflater)
		d.gz, _ = gzip.NewWriterLevel(nil, gzipLevel) // a valid level: no error
		return d
	}
}

func putDeflater(d *deflater) {
	select {
	case deflaters <- d:
	default: // enough are kept
	}
}

// appendGzip appends msg, gzipped, to dst.
func appendGzip(dst, msg []byte) []byte {
	d := getDeflater()
	// Room for the message in half its size, as JSON and XML shrink at
	// least, saves growing dst step by step.
	d.out.b = slices.Grow(dst, len(msg)/2+64)
	d.gz.Reset(&d.out)
	// Writing to an appender cannot fail.
	_, _ = d.gz.Write(msg)
	_ = d.gz.Close()
	dst = d.out.b
	d.out.b = nil
	putDeflater(d)
	return dst
}

// gunzipHead returns up to n bytes of a gzip body decoded, for the message
// of an error status; what cannot be decoded is returned as it came.
func gunzipHead(body []byte, n int) []byte {
	z, err := inflate(bytes.NewReader(body), codingGzip)
	if err != nil {
		return body
	}
	defer z.release()
	out, _ := io.ReadAll(io.LimitReader(z, int64(n)))
	return out
}

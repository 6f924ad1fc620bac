package netutil

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// The PROXY protocol, versions 1 and 2, as HAProxy specifies it
// (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt): a proxy
// sends one header ahead of the connection's own bytes, saying whom the
// connection is for.

const (
	v1Sig = "PROXY "
	v2Sig = "\r\n\r\n\x00\r\nQUIT\n"
	// v1Max is the longest v1 header, CRLF included.
	v1Max = 107
	// v2Max bounds a v2 header: its 16 bytes and what follows them, the
	// addresses and TLVs. The protocol allows 64 KiB; what proxies send
	// (addresses, SSL facts, an id, a VPC endpoint) is a few hundred bytes.
	v2Max = 4096
)

// header is what a PROXY header says: src and dst are the client's and the
// proxy's listening addresses, valid when the proxy forwards a client's
// connection; they are zero for a header whose connection is to be taken
// as it is (v2 LOCAL, a health check of the proxy's own; v1 UNKNOWN; v2
// with an unspecified or Unix address family or transport).
type header struct {
	src, dst netip.AddrPort
}

// Errors of a header.
var (
	// errIncomplete: the bytes may begin a header; read more.
	errIncomplete = errors.New("incomplete PROXY header")
	errMalformed  = errors.New("malformed PROXY header")
	errOversized  = errors.New("PROXY header too long")
)

// headerError is an error of a header, with what is wrong with it.
type headerError struct {
	err error // errMalformed, errOversized
	msg string
}

func (e *headerError) Error() string { return e.err.Error() + ": " + e.msg }
func (e *headerError) Unwrap() error { return e.err }

func malformed(msg string) error { return &headerError{errMalformed, msg} }

// parseHeader parses the PROXY header at the start of b, the first bytes of
// a connection. It returns the header and its length n; n == 0 and a nil
// error when b begins with neither version's signature, so that the
// connection has no header; errIncomplete when b may be the beginning of a
// header, which a longer b would tell; or the error of a malformed or
// oversized header.
func parseHeader(b []byte) (h header, n int, err error) {
	switch {
	case hasSigPrefix(b, v1Sig):
		if len(b) < len(v1Sig) {
			return header{}, 0, errIncomplete
		}
		return parseV1(b)
	case hasSigPrefix(b, v2Sig):
		if len(b) < len(v2Sig) {
			return header{}, 0, errIncomplete
		}
		return parseV2(b)
	}
	if len(b) == 0 {
		return header{}, 0, errIncomplete
	}
	return header{}, 0, nil
}

// hasSigPrefix reports whether b and sig agree on their common length: b is
// a prefix of sig, or begins with it. An empty b agrees with neither.
func hasSigPrefix(b []byte, sig string) bool {
	n := min(len(b), len(sig))
	return n > 0 && string(b[:n]) == sig[:n]
}

// parseV1 parses "PROXY TCP4 src dst sport dport\r\n" (or TCP6, or
// "PROXY UNKNOWN ...\r\n"), with single spaces; b begins with v1Sig.
func parseV1(b []byte) (header, int, error) {
	end := bytes.Index(b[:min(len(b), v1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= v1Max {
			return header{}, 0, &headerError{errOversized, "no CRLF within 107 bytes"}
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return header{}, 0, malformed("LF without CR")
		}
		return header{}, 0, errIncomplete
	}
	n := end + 2
	line := string(b[len(v1Sig):end])
	proto, rest, _ := strings.Cut(line, " ")
	switch proto {
	case "UNKNOWN":
		// The rest of the line is to be ignored (it may be empty, or
		// anything a sender put there).
		return header{}, n, nil
	case "TCP4", "TCP6":
	default:
		return header{}, 0, malformed("unknown protocol " + quote(proto))
	}
	f := strings.Split(rest, " ")
	if len(f) != 4 {
		return header{}, 0, malformed(proto + " wants 4 fields, has " + quote(rest))
	}
	src, err1 := netip.ParseAddr(f[0])
	dst, err2 := netip.ParseAddr(f[1])
	if err1 != nil || err2 != nil {
		return header{}, 0, malformed("bad address in " + quote(rest))
	}
	if want4 := proto == "TCP4"; src.Is4() != want4 || dst.Is4() != want4 || src.Zone() != "" || dst.Zone() != "" {
		return header{}, 0, malformed("addresses of the wrong family for " + proto + ": " + quote(rest))
	}
	sport, ok1 := parsePort(f[2])
	dport, ok2 := parsePort(f[3])
	if !ok1 || !ok2 {
		return header{}, 0, malformed("bad port in " + quote(rest))
	}
	return header{netip.AddrPortFrom(src.Unmap(), sport), netip.AddrPortFrom(dst.Unmap(), dport)}, n, nil
}

// parsePort parses a port in decimal, 0 to 65535.
func parsePort(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = 10*n + int(s[i]-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// v2's command, address families and transports.
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	afUnspec = 0x0
	afInet   = 0x1
	afInet6  = 0x2
	afUnix   = 0x3

	tpUnspec = 0x0
	tpStream = 0x1
	tpDgram  = 0x2
)

// parseV2 parses a binary header: the signature, a byte of version and
// command, one of address family and transport, the length of the rest,
// then the addresses and TLVs, which are skipped; b begins with v2Sig.
func parseV2(b []byte) (header, int, error) {
	if len(b) < 16 {
		return header{}, 0, errIncomplete
	}
	if b[12]>>4 != 2 {
		return header{}, 0, malformed("version " + strconv.Itoa(int(b[12]>>4)))
	}
	cmd, af, tp := b[12]&0xf, b[13]>>4, b[13]&0xf
	if cmd > cmdProxy {
		return header{}, 0, malformed("command " + strconv.Itoa(int(cmd)))
	}
	if af > afUnix || tp > tpDgram {
		return header{}, 0, malformed("address family " + strconv.Itoa(int(af)) + ", transport " + strconv.Itoa(int(tp)))
	}
	size := int(binary.BigEndian.Uint16(b[14:16]))
	n := 16 + size
	if n > v2Max {
		return header{}, 0, &headerError{errOversized, strconv.Itoa(n) + " bytes"}
	}
	if len(b) < n {
		return header{}, 0, errIncomplete
	}
	if cmd == cmdLocal {
		// The proxy's own connection (a health check): the addresses,
		// whatever the family says, are ignored.
		return header{}, n, nil
	}
	if tp == tpDgram {
		return header{}, 0, malformed("a datagram transport on a stream")
	}
	body := b[16:n]
	switch {
	case tp == tpUnspec || af == afUnspec || af == afUnix:
		// Nothing an IP peer can be made of: the connection's own
		// addresses stand, as the protocol allows.
		return header{}, n, nil
	case af == afInet:
		if size < 12 {
			return header{}, 0, malformed("IPv4 addresses in " + strconv.Itoa(size) + " bytes")
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		return header{
			netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])),
			netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12])),
		}, n, nil
	default: // afInet6
		if size < 36 {
			return header{}, 0, malformed("IPv6 addresses in " + strconv.Itoa(size) + " bytes")
		}
		src := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		dst := netip.AddrFrom16([16]byte(body[16:32])).Unmap()
		return header{
			netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34])),
			netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36])),
		}, n, nil
	}
}

// quote quotes s for an error message, shortened.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

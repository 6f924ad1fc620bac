package netutil

import (
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedFor returns a handler that serves h with the request's
// RemoteAddr set to its client's address, as X-Forwarded-For tells it,
// when the request comes from a trusted proxy: from an address in
// trusted. The client is then the right-most address of X-Forwarded-For
// that is not itself trusted, walking the list from its end (each proxy
// appends the address it got the request from), so that addresses a client
// put in the header itself are ignored; when all are trusted, the left-most
// one. RemoteAddr becomes that address with port 0 ("203.0.113.7:0",
// "[2001:db8::7]:0"): the client's port is not known, and the proxy's is no
// port of the client's. rpc.Peer, httprpc's logs and handlers behind it see
// that address.
//
// From a source that is not trusted, and when the list holds an entry that
// is no IP address (with a port or without) where the walk reaches it, the
// request is served as it came. The header itself is left as it is; the
// standard Forwarded header (RFC 7239) is not read. Note that the limits
// per address of httprpc's server count connections by the connection's
// own address; for those to see the client, the proxy must send the PROXY
// protocol instead (ProxyProtocol).
//
// An invalid prefix is never trusted. With none trusted, ForwardedFor
// returns h.
func ForwardedFor(h http.Handler, trusted []netip.Prefix) http.Handler {
	ps := make([]netip.Prefix, 0, len(trusted))
	for _, p := range trusted {
		if p.IsValid() {
			ps = append(ps, p)
		}
	}
	ps, _ = normalize(ps)
	if len(ps) == 0 {
		return h
	}
	return &forwardedFor{h: h, trusted: ps}
}

type forwardedFor struct {
	h       http.Handler
	trusted []netip.Prefix
}

func (f *forwardedFor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 && contains(f.trusted, parseAddr(r.RemoteAddr)) {
		if client, ok := f.client(xff); ok {
			r2 := new(http.Request)
			*r2 = *r
			r2.RemoteAddr = netip.AddrPortFrom(client, 0).String()
			r = r2
		}
	}
	f.h.ServeHTTP(w, r)
}

// client returns the client's address in the X-Forwarded-For fields xff.
func (f *forwardedFor) client(xff []string) (netip.Addr, bool) {
	var last netip.Addr // the left-most address walked, all trusted
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, entry = list[:j], list[j+1:]
			} else {
				list, entry = "", list
			}
			entry = strings.Trim(entry, " \t")
			if entry == "" {
				continue // "a,,b", a trailing comma: no entry
			}
			a := parseAddr(entry)
			if !a.IsValid() {
				return netip.Addr{}, false
			}
			a = a.Unmap().WithZone("")
			if !contains(f.trusted, a) {
				return a, true
			}
			last = a
		}
	}
	return last, last.IsValid()
}

// parseAddr parses an IP address, with a port or without, an IPv6 one in
// brackets or not: the forms of RemoteAddr and of X-Forwarded-For entries.
func parseAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr()
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a
		}
	}
	return netip.Addr{}
}

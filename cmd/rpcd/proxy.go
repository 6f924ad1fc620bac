package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// setProxyFrom reads -proxy-protocol-from: comma-separated CIDRs, or
// addresses (a /32 or /128 of their own).
func (cfg *config) setProxyFrom(v string) error {
	cfg.proxyFrom = nil
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return fmt.Errorf("%q is no CIDR (10.0.0.0/8, fd00::/8)", f)
			}
			if p != p.Masked() {
				return fmt.Errorf("%q has host bits set: %s?", f, p.Masked())
			}
			cfg.proxyFrom = append(cfg.proxyFrom, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return fmt.Errorf("%q is no CIDR or address", f)
		}
		a = a.Unmap()
		cfg.proxyFrom = append(cfg.proxyFrom, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(cfg.proxyFrom) == 0 {
		return fmt.Errorf("no CIDR given")
	}
	return nil
}

// wrapListener adds to a listener what the serve flags ask for the
// balancers in front: -max-conn-age, then the PROXY protocol from
// -proxy-protocol-from. TLS, if any, goes above.
func wrapListener(cfg config, ln net.Listener, log *slog.Logger) (net.Listener, error) {
	ln = netutil.MaxAge(ln, cfg.maxConnAge)
	if len(cfg.proxyFrom) == 0 {
		return ln, nil
	}
	pl, err := netutil.ProxyProtocol(ln, cfg.proxyFrom, netutil.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("rpcd: -proxy-protocol-from: %w", err)
	}
	return pl, nil
}

// forwardedFor honours X-Forwarded-For from -proxy-protocol-from's
// sources.
func forwardedFor(cfg config, h http.Handler) http.Handler {
	if len(cfg.proxyFrom) == 0 {
		return h
	}
	return netutil.ForwardedFor(h, cfg.proxyFrom)
}

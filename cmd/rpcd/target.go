package main

import (
	"net/url"
	"slices"
	"strings"
)

// target is where a client URL points.
type target struct {
	scheme string // http, https, tcp, tls or unix
	url    string // http and https: the URL itself
	addr   string // tcp and tls: host:port; unix: the socket's path
}

// urlForms is the list of URL forms every client command accepts.
const urlForms = "http://host:port/path, https://…, tcp://host:port, tls://host:port,\n" +
	"unix:///absolute/path or unix:relative/path"

// parseTarget reads a client URL: http:// and https:// over HTTP; tcp://,
// tls:// and unix: over framed streams. A unix URL names its socket by its
// path: unix:///tmp/x is /tmp/x and unix:tmp/x is tmp/x, relative to the
// current directory; unix://tmp/x, whose "tmp" is a host, is an error, not
// the socket /x.
func parseTarget(rawURL string) (target, error) {
	u, err := url.Parse(rawURL)
	known := err == nil && slices.Contains([]string{"http", "https", "tcp", "tls", "unix"}, u.Scheme)
	switch {
	case rawURL == "":
		return target{}, usageError("empty URL")
	case known && u.Scheme != "unix" && u.Opaque != "":
		return target{}, usageError("URL %q lacks the // after its scheme: %s://%s", rawURL, u.Scheme, u.Opaque)
	case !known && !strings.Contains(rawURL, "://"):
		// host:port parses as a path or as the scheme "host".
		return target{}, usageError("URL %q needs a scheme: http://%s/ for HTTP, tcp://%s for TCP", rawURL, rawURL, rawURL)
	case err != nil:
		return target{}, usageError("bad URL %q: %v", rawURL, err)
	}
	t := target{scheme: u.Scheme}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return t, usageError("%s URL needs a host: %q", u.Scheme, rawURL)
		}
		t.url = rawURL
	case "tcp", "tls":
		if u.Host == "" || u.Port() == "" {
			return t, usageError("%s URL needs host:port: %q", u.Scheme, rawURL)
		}
		if u.Path != "" && u.Path != "/" {
			return t, usageError("%s URL %q has a path, which a stream server does not have: %s://%s", u.Scheme, rawURL, u.Scheme, u.Host)
		}
		t.addr = u.Host
	case "unix":
		if u.Host != "" {
			return t, usageError("unix URL %q has a host part (%q): write unix:///%s%s for an absolute path, or unix:%s%s for one relative to the current directory",
				rawURL, u.Host, u.Host, u.Path, u.Host, u.Path)
		}
		t.addr = u.Path
		if u.Opaque != "" {
			if t.addr, err = url.PathUnescape(u.Opaque); err != nil {
				return t, usageError("bad URL %q: %v", rawURL, err)
			}
		}
		if t.addr == "" {
			return t, usageError("unix URL needs a path: unix:///path/to/socket")
		}
	default:
		return t, usageError("unsupported URL scheme %q: use http, https, tcp, tls or unix", u.Scheme)
	}
	return t, nil
}

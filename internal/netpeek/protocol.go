package netpeek

import "bytes"

// Foreign names the protocol of b, the first bytes (four are enough) that a
// peer sent where a frame was expected: "TLS" for a TLS record (a server
// that answers plain bytes with an alert, or a client's hello), "HTTP" for
// an HTTP response or request, "" for anything else, a frame included.
func Foreign(b []byte) string {
	switch {
	case len(b) >= 3 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 3 && b[2] <= 4:
		return "TLS"
	case len(b) >= 4 && bytes.HasPrefix(b, []byte("HTTP")):
		return "HTTP"
	}
	for _, m := range httpMethods {
		if len(b) >= 4 && bytes.HasPrefix([]byte(m), b[:4]) {
			return "HTTP"
		}
	}
	return ""
}

var httpMethods = []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

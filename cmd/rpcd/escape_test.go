package main

import "testing"

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain text, é € 日本", "plain text, é € 日本"},
		{"tab\tstays", "tab\tstays"},
		{"\x1b]0;PWNED\x07", `\u001b]0;PWNED\u0007`},
		{"line\r\nforged", `line\u000d\u000aforged`},
		{"\x00\x7f", `\u0000\u007f`},
		{"c1 \u0085 \u009b", `c1 \u0085 \u009b`},
		{"\u202eabc\u202c \u2066x\u2069 \u200e\u200f\u061c", `\u202eabc\u202c \u2066x\u2069 \u200e\u200f\u061c`},
		{"not utf-8: \x9b31m \xff", `not utf-8: \x9b31m \xff`},
		{"\u00a0\u2028", "\u00a0\u2028"}, // not controls a terminal acts on
	} {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`{"a":[1,"x"]}`, `{"a":[1,"x"]}`},
		{"\"\x7f\u0085\u202e\u2066é\"", `"\u007f\u0085\u202e\u2066é"`},
	} {
		if got := string(sanitizeJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("sanitizeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// sanitize makes a string that came from a server safe to print on a
// terminal: it writes every character that a terminal or a text renderer
// acts on as an escape instead (\u001b for ESC, \x9b for a byte that is not
// UTF-8). Those are the C0 controls but tab (newline included: a server's
// string must not forge a line of rpcd's output), DEL, the C1 controls,
// and the bidirectional formatting characters that reorder what is shown
// (Trojan Source).
func sanitize(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r, n):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports whether r, decoded from n bytes, must be escaped.
func unsafeRune(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1: // not UTF-8: a lone 0x9b is CSI to some terminals
		return true
	case r == '\t':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	}
	return bidiControl(r)
}

// bidiControl reports whether r is one of Unicode's bidirectional
// formatting characters: the marks, embeddings, overrides and isolates.
func bidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// sanitizeJSON escapes, in JSON text made by encoding/json, the characters
// that encoding/json leaves raw but a terminal acts on: DEL, the C1
// controls and the bidirectional formatting characters. encoding/json
// already escapes the C0 controls and replaces invalid UTF-8, and these
// characters can only stand inside strings, where \uXXXX is valid JSON:
// the text stays JSON of the same value.
func sanitizeJSON(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0x7f || (r >= 0x80 && r <= 0x9f) || bidiControl(r) {
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + n
		}
		i += n
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

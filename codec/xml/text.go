package xml

import (
	"bytes"
	"fmt"
	"time"
	"unicode/utf8"
)

// decodeRef returns the character a reference's name (between '&' and ';')
// stands for. The parser has validated it.
func decodeRef(name []byte) rune {
	switch string(name) {
	case "lt":
		return '<'
	case "gt":
		return '>'
	case "amp":
		return '&'
	case "apos":
		return '\''
	case "quot":
		return '"'
	}
	digits, base := name[1:], rune(10)
	if len(digits) > 0 && digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	var r rune
	for _, c := range digits {
		switch {
		case c >= '0' && c <= '9':
			r = r*base + rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r*base + rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r = r*base + rune(c-'A') + 10
		}
	}
	return r
}

// unescape appends the character data of s, content the parser has
// validated, to dst: references replaced, line ends normalised to '\n' as
// XML requires, CDATA sections unwrapped, comments and processing
// instructions dropped.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		switch s[i] {
		case '&':
			semi := bytes.IndexByte(s[i:], ';')
			dst = utf8.AppendRune(dst, decodeRef(s[i+1:i+semi]))
			i += semi + 1
		case '\r':
			dst = append(dst, '\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
		case '<':
			switch {
			case bytes.HasPrefix(s[i:], []byte("<![CDATA[")):
				end := bytes.Index(s[i+9:], []byte("]]>"))
				dst = normalizeLines(dst, s[i+9:i+9+end])
				i += 9 + end + 3
			case bytes.HasPrefix(s[i:], []byte("<!--")):
				i += 4 + bytes.Index(s[i+4:], []byte("-->")) + 3
			default: // a processing instruction
				i += 2 + bytes.Index(s[i+2:], []byte("?>")) + 2
			}
		default:
			j := i + 1
			for j < len(s) && s[j] != '&' && s[j] != '\r' && s[j] != '<' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		}
	}
	return dst
}

// normalizeLines appends s with "\r\n" and lone '\r' turned into '\n'.
func normalizeLines(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, '\r')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:i]...), '\n')
		s = s[i+1:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
}

// textClass sorts ASCII bytes for escaping: 0 copied, 1 escaped, 2 not
// allowed in XML 1.0.
var textClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 2
	}
	t['\t'], t['\n'] = 0, 0
	t['\r'], t['<'], t['>'], t['&'] = 1, 1, 1, 1
	t[0x7F] = 0
	return t
}()

// appendText appends s escaped as XML character data. '\r' is written as
// a character reference, because a parser turns a literal one into '\n'. A
// character that XML 1.0 cannot carry, or invalid UTF-8, is an error; when
// lossy is set it becomes U+FFFD instead.
func appendText(b []byte, s string, lossy bool) ([]byte, error) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch textClass[c] {
			case 0:
				i++
				continue
			case 2:
				if !lossy {
					return b, fmt.Errorf("xml: string holds %U, which XML 1.0 cannot carry", rune(c))
				}
				b = append(append(b, s[last:i]...), "\uFFFD"...)
				i++
				last = i
				continue
			}
			b = append(b, s[last:i]...)
			switch c {
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '&':
				b = append(b, "&amp;"...)
			case '\r':
				b = append(b, "&#13;"...)
			}
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			if !lossy {
				if size == 1 && r == utf8.RuneError {
					return b, fmt.Errorf("xml: string holds invalid UTF-8")
				}
				return b, fmt.Errorf("xml: string holds %U, which XML 1.0 cannot carry", r)
			}
			b = append(append(b, s[last:i]...), "\uFFFD"...)
			i += size
			last = i
			continue
		}
		i += size
	}
	return append(b, s[last:]...), nil
}

// parseTime parses the dateTime.iso8601 forms found in the wild: the
// spec's 19980717T14:08:55, with or without the date's hyphens and the
// time's colons, with fractional seconds, and with Z or a ±hh[:mm] offset.
// A time without a zone is taken as UTC.
func parseTime(s []byte) (sec int64, nsec int32, ok bool) {
	i := 0
	num := func(n int) int {
		if i+n > len(s) {
			ok = false
			return 0
		}
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			v = v*10 + int(c-'0')
		}
		i += n
		return v
	}
	skip := func(c byte) {
		if i < len(s) && s[i] == c {
			i++
		}
	}
	ok = true
	year := num(4)
	skip('-')
	month := num(2)
	skip('-')
	day := num(2)
	if !ok || i >= len(s) || s[i] != 'T' && s[i] != 't' {
		return 0, 0, false
	}
	i++
	hour := num(2)
	skip(':')
	minute := num(2)
	skip(':')
	second := num(2)
	if !ok {
		return 0, 0, false
	}
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		digits := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if digits < 9 {
				nsec = nsec*10 + int32(s[i]-'0')
			}
			digits++
		}
		if digits == 0 {
			return 0, 0, false
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	offset := 0
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			i++
			oh := num(2)
			om := 0
			if i < len(s) {
				skip(':')
				om = num(2)
			}
			if !ok || oh > 23 || om > 59 {
				return 0, 0, false
			}
			offset = sign * (oh*3600 + om*60)
		}
	}
	if i != len(s) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 60 {
		return 0, 0, false
	}
	sec = time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Unix() - int64(offset)
	if sec < minTime || sec > maxTime {
		// An offset took it out of the years that can be written back.
		return 0, 0, false
	}
	return sec, nsec, true
}

// The Unix seconds of the first and last second that appendTime writes.
var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendTime appends t in UTC as the spec's YYYYMMDDTHH:MM:SS, the only
// form every reader parses (Python's with use_builtin_types among them).
// Fractions of a second are dropped.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return b, fmt.Errorf("xml: time %v is outside years 0000-9999", t)
	}
	h, mi, s := t.Clock()
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10),
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10)), nil
}

// base64Value maps base64 characters to their value; 0xFE marks whitespace
// and padding, 0xFF anything else.
var base64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	t[' '], t['\t'], t['\n'], t['\r'], t['='] = 0xFE, 0xFE, 0xFE, 0xFE, 0xFE
	return t
}()

// base64Len checks standard base64 as senders write it, with whitespace
// and line breaks anywhere (Python breaks lines every 76 characters) and
// padding optional, and returns its decoded length.
func base64Len(s []byte) (int, bool) {
	n, pad := 0, 0
	for _, c := range s {
		switch v := base64Value[c]; {
		case v < 64:
			if pad > 0 {
				return 0, false // data after padding
			}
			n++
		case c == '=':
			pad++
		case v == 0xFF:
			return 0, false
		}
	}
	switch {
	case n%4 == 1, pad > 2:
		return 0, false
	case pad > 0 && (n+pad)%4 != 0:
		return 0, false
	}
	return n/4*3 + [4]int{0, 0, 1, 2}[n%4], true
}

// decodeBase64 appends the bytes of s, which base64Len has accepted, to dst.
func decodeBase64(dst, s []byte) []byte {
	var acc uint32
	n := 0
	for _, c := range s {
		v := base64Value[c]
		if v >= 64 {
			continue
		}
		acc = acc<<6 | uint32(v)
		if n++; n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}

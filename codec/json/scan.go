package json

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// The scanner validates JSON (RFC 8259) and finds where values end, without
// building anything: the codec splits a message into the byte ranges of its
// members and decodes a param only once the method says what Go type it
// wants. Validation happens during the one pass that splits, never as a
// separate json.Valid. Nesting is tracked with a bit per level instead of
// recursion, so a hostile message of a million '[' costs no stack, and the
// depth budget refuses it at the first level past the limit.

// span is the half-open byte range [off, end) of a value in a message.
type span struct{ off, end int }

// errTooDeep reports nesting beyond the depth budget.
var errTooDeep = errors.New("json: nested too deeply")

// syntaxError describes malformed JSON. A server sends it as the message of
// a CodeParseError; a client returns it as it is.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return "json: " + e.msg + " at offset " + strconv.Itoa(e.off)
}

func errAt(off int, msg string) error { return &syntaxError{msg: msg, off: off} }

// errChar reports an unexpected byte at b[i], or the end of input.
func errChar(b []byte, i int, where string) error {
	if i >= len(b) {
		return errAt(i, "unexpected end of input "+where)
	}
	return errAt(i, "invalid character "+strconv.QuoteRune(rune(b[i]))+" "+where)
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trailing reports anything but whitespace after the value ending at i.
func trailing(b []byte, i int) error {
	if i = skipSpace(b, i); i < len(b) {
		return errChar(b, i, "after top-level value")
	}
	return nil
}

// Masks for testing eight string bytes at once (the classic "has a byte less
// than n" and "has a zero byte" bit tricks). They may flag a word that holds
// none of the bytes sought, never the reverse, and a flagged word is then
// scanned byte by byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	quote = '"' * ones
	bslsh = '\\' * ones
	ctrl  = 0x20 * ones
)

// scanString scans the string whose opening quote is at b[i] and returns the
// index after its closing quote and whether it holds escapes. It checks the
// escapes and refuses control characters, as the grammar requires; like
// encoding/json it leaves UTF-8 validity to the decoder, which replaces
// invalid bytes with U+FFFD.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			q, s := w^quote, w^bslsh
			if ((w-ctrl)|(q-ones)|(s-ones))&^w&highs != 0 {
				break
			}
			i += 8
		}
		for i < len(b) {
			c := b[i]
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			if c == '"' {
				return i + 1, escaped, nil
			}
			if c < 0x20 {
				return i, escaped, errAt(i, "control character in string")
			}
			// A backslash.
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, errAt(len(b), "unexpected end of input in string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, escaped, errAt(len(b), "unexpected end of input in string")
				}
				if hex4(b[i+2:i+6]) < 0 {
					return i, escaped, errAt(i, "invalid \\u escape in string")
				}
				i += 6
			default:
				return i, escaped, errAt(i+1, "invalid escape "+strconv.QuoteRune(rune(b[i+1]))+" in string")
			}
			// Back to the word loop after an escape.
			break
		}
		if i >= len(b) {
			return i, escaped, errAt(len(b), "unexpected end of input in string")
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans the number starting at b[i] and returns the index after it.
// The caller checks what follows, so "01" fails there, at the '1'.
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, errChar(b, i, "in number")
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return i, errChar(b, i, "looking for a value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, errChar(b, i, "after decimal point in number")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, errChar(b, i, "in exponent of number")
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i, nil
}

// scanLiteral scans true, false or null at b[i].
func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, errChar(b, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// scanScalar scans the string, number or literal at b[i].
func scanScalar(b []byte, i int) (int, error) {
	switch b[i] {
	case '"':
		end, _, err := scanString(b, i)
		return end, err
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	}
	return scanNumber(b, i)
}

// scanKey scans an object key at b[i] (whitespace allowed before it) and
// the colon after it, and returns the key's span, whether it holds escapes,
// and the index of the member's value.
func scanKey(b []byte, i int) (key span, escaped bool, next int, err error) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return span{}, false, i, errChar(b, i, "looking for an object key")
	}
	end, escaped, err := scanString(b, i)
	if err != nil {
		return span{}, false, end, err
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ':' {
		return span{}, false, j, errChar(b, j, "after object key")
	}
	return span{i, end}, escaped, skipSpace(b, j+1), nil
}

// levels records, one bit per open container, which are objects. The first
// 128 levels live in the struct, so the default depth limit never allocates.
type levels struct {
	small [2]uint64
	big   []uint64
}

func (l *levels) set(depth int, obj bool) {
	w, bit := depth>>6, uint64(1)<<(depth&63)
	var p *uint64
	if w < len(l.small) {
		p = &l.small[w]
	} else {
		for len(l.big) <= w-len(l.small) {
			l.big = append(l.big, 0)
		}
		p = &l.big[w-len(l.small)]
	}
	if obj {
		*p |= bit
	} else {
		*p &^= bit
	}
}

func (l *levels) isObj(depth int) bool {
	w, bit := depth>>6, uint64(1)<<(depth&63)
	if w < len(l.small) {
		return l.small[w]&bit != 0
	}
	return l.big[w-len(l.small)]&bit != 0
}

// skipValue validates the value at b[i] (after optional whitespace) and
// returns the index just after it. budget is how many levels of arrays and
// objects the value may open; one more is errTooDeep.
func skipValue(b []byte, i, budget int) (int, error) {
	var open levels
	depth := 0
	var err error
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, errChar(b, i, "looking for a value")
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth >= budget {
				return i, errTooDeep
			}
			i = skipSpace(b, i+1)
			if c == '{' && i < len(b) && b[i] == '}' || c == '[' && i < len(b) && b[i] == ']' {
				i++ // an empty container is a complete value
				break
			}
			open.set(depth, c == '{')
			depth++
			if c == '{' {
				if _, _, i, err = scanKey(b, i); err != nil {
					return i, err
				}
			}
			continue
		default:
			if i, err = scanScalar(b, i); err != nil {
				return i, err
			}
		}
		// A value ended at i: close what it ends and find the next value.
		for {
			if depth == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, errChar(b, i, "after value")
			}
			obj := open.isObj(depth - 1)
			c := b[i]
			if c == ',' {
				i++
				if obj {
					if _, _, i, err = scanKey(b, i); err != nil {
						return i, err
					}
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				i++
				depth--
				continue
			}
			if obj {
				return i, errChar(b, i, "after object member")
			}
			return i, errChar(b, i, "after array element")
		}
	}
}

// walker walks the elements of one array, or the members of one object,
// validating each. The caller either scans a value with value or walks into
// it on its own and then sets i past it.
type walker struct {
	b       []byte
	i       int  // the next byte to read
	obj     bool // walking an object
	started bool
	budget  int // levels each element may open

	key    span // the current member's key, quotes included
	keyEsc bool // the key holds escapes
}

// newWalker starts a walk of the container at b[i], which is '[' or '{'.
// budget counts the container's own level.
func newWalker(b []byte, i, budget int) (walker, error) {
	if budget < 1 {
		return walker{}, errTooDeep
	}
	return walker{b: b, i: i + 1, obj: b[i] == '{', budget: budget - 1}, nil
}

// next moves to the next element, leaving w.i at its value, and reports
// false, with w.i after the container, when there is none.
func (w *walker) next() (bool, error) {
	b := w.b
	i := skipSpace(b, w.i)
	closer := byte(']')
	if w.obj {
		closer = '}'
	}
	// The closer may follow '[' or an element, never a comma: that case
	// fails below, where a key or value is wanted.
	if i < len(b) && b[i] == closer {
		w.i = i + 1
		return false, nil
	}
	if w.started {
		if i >= len(b) || b[i] != ',' {
			if w.obj {
				return false, errChar(b, i, "after object member")
			}
			return false, errChar(b, i, "after array element")
		}
		i++
	}
	w.started = true
	if w.obj {
		var err error
		if w.key, w.keyEsc, i, err = scanKey(b, i); err != nil {
			return false, err
		}
	} else {
		i = skipSpace(b, i)
	}
	w.i = i
	return true, nil
}

// value scans the current element's value and returns its span.
func (w *walker) value() (span, error) {
	start := w.i
	end, err := skipValue(w.b, start, w.budget)
	if err != nil {
		return span{}, err
	}
	w.i = end
	return span{start, end}, nil
}

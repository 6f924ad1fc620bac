package xml

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// The parser reads a whole message in one pass, without recursion, into a
// flat list of nodes in document order. Scalars are checked and, where that
// is cheap, converted while parsing, so that a message either parses whole
// or fails with a precise code before any handler runs; strings and base64
// keep only their span in the message and are copied out when a param is
// decoded into its Go type.

// kind is the XML-RPC type of a node.
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDouble
	kindTime
	kindBase64
	kindNil
	kindArray
	kindStruct
	kindMember // a struct member: its name; the value is the next node
)

var kindNames = [...]string{
	kindString: "string",
	kindInt:    "int",
	kindBool:   "boolean",
	kindDouble: "double",
	kindTime:   "dateTime.iso8601",
	kindBase64: "base64",
	kindNil:    "nil",
	kindArray:  "array",
	kindStruct: "struct",
	kindMember: "member",
}

func (k kind) String() string { return kindNames[k] }

// node is one parsed value, or a struct member's name. Containers are
// followed by their elements (a struct's as member, value pairs); skip is
// the index just past the node and everything nested in it.
type node struct {
	// num is the integer, the boolean (0 or 1), the float64 bits, the Unix
	// seconds of a time, the decoded length of base64, or the element count
	// of an array or struct.
	num int64
	// start and end delimit the text of a string, base64 or member name;
	// start holds the nanoseconds of a time.
	start, end uint32
	skip       uint32
	kind       kind
	// raw marks text holding references, CDATA, comments or carriage
	// returns: it must be unescaped before use.
	raw bool
}

// codeUnsupportedEncoding is the fault-interop code for a document in an
// encoding the server cannot read.
const codeUnsupportedEncoding int = -32701

// syntaxError is a message that cannot be read: not well-formed XML
// (wire.CodeParseError), not XML-RPC (wire.CodeInvalidRequest), nested too
// deeply (wire.CodeLimitExceeded) or in an unsupported encoding.
type syntaxError struct {
	code int
	msg  string
	line int // of the offending byte, from 1; 0 when unknown
	col  int
}

func (e *syntaxError) Error() string {
	if e.line == 0 {
		return "xml: " + e.msg
	}
	return fmt.Sprintf("xml: %s (line %d, column %d)", e.msg, e.line, e.col)
}

// rpcError is the error a server answers with.
func (e *syntaxError) rpcError() *wire.Error {
	prefix := "invalid request: "
	switch e.code {
	case wire.CodeParseError:
		prefix = "parse error: "
	case wire.CodeLimitExceeded:
		prefix = "limit exceeded: "
	case codeUnsupportedEncoding:
		prefix = "unsupported encoding: "
	}
	msg := e.msg
	if e.line > 0 {
		msg = fmt.Sprintf("%s (line %d, column %d)", msg, e.line, e.col)
	}
	return &wire.Error{Code: e.code, Message: prefix + msg}
}

// tag is a start or end tag. raw is the qualified name as written; local
// drops any namespace prefix, as Python's and Apache's readers do.
type tag struct {
	raw, local []byte
	end        bool // an end tag
	empty      bool // a self-closing start tag
	pos        int  // offset of its '<'
}

func (t *tag) is(local string) bool { return string(t.local) == local }

// frame is an array or struct being parsed.
type frame struct {
	node     int    // index of its node
	array    bool   // else a struct
	inMember bool   // a member's value was opened: </member> follows it
	val      []byte // the raw names of the elements to close
	typ      []byte
	data     []byte
	member   []byte
}

type parser struct {
	b        []byte
	pos      int
	nodes    []node
	stack    []frame
	params   []int32 // node index of each top-level value
	scratch  []byte  // unescaped text of a raw scalar
	maxDepth int
	lt       int // the number of '<' in b, a bound on the number of nodes
	est      int // the number of nodes expected
}

// init readies p to parse b, with buffers for the nodes and params that
// the caller may have preallocated.
func (p *parser) init(b []byte, nodes []node, params []int32) {
	// About four '<' make a node in typical XML-RPC; counting them is cheap
	// and sizes the node list by what the message holds, not by what it
	// claims. Large messages start smaller, so that one failing early
	// costs little.
	p.lt = bytes.Count(b, []byte{'<'})
	p.est = p.lt/4 + 2
	if n := min(p.est, 1024); n > cap(nodes) {
		nodes = make([]node, 0, n)
	}
	p.b, p.nodes, p.params = b, nodes, params
}

// push appends a node. The list grows to the estimate and then, every node
// starting with a '<' of its own, once to that bound: memory stays a small
// multiple of the message whatever it holds.
func (p *parser) push(n node) {
	if len(p.nodes) == cap(p.nodes) {
		c := p.est
		if c <= cap(p.nodes) {
			c = max(p.lt, 2*cap(p.nodes))
		}
		nodes := make([]node, len(p.nodes), c)
		copy(nodes, p.nodes)
		p.nodes = nodes
	}
	p.nodes = append(p.nodes, n)
}

func (p *parser) fail(code int, at int, format string, args ...any) *syntaxError {
	e := &syntaxError{code: code, msg: fmt.Sprintf(format, args...)}
	if at >= 0 && at <= len(p.b) {
		lineStart := bytes.LastIndexByte(p.b[:at], '\n') + 1
		e.line = 1 + bytes.Count(p.b[:lineStart], []byte{'\n'})
		e.col = 1 + utf8.RuneCount(p.b[lineStart:at])
	}
	return e
}

func (p *parser) malformed(at int, format string, args ...any) *syntaxError {
	return p.fail(wire.CodeParseError, at, format, args...)
}

func (p *parser) invalid(at int, format string, args ...any) *syntaxError {
	return p.fail(wire.CodeInvalidRequest, at, format, args...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// trimSpace drops XML whitespace around s.
func trimSpace(s []byte) []byte {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// textStop marks the bytes that end the fast path of text scanning: markup,
// references, carriage returns (line ends are normalised), ']' (for "]]>"),
// control characters that XML forbids, and the start of multi-byte UTF-8.
var textStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = c != '\t' && c != '\n'
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	t['<'], t['&'], t[']'] = true, true, true
	return t
}()

// nameByte marks the bytes of an element or attribute name. Non-ASCII bytes
// are accepted here and checked as UTF-8 afterwards.
var nameByte = func() (t [256]bool) {
	for c := 0; c < 0x100; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-' || c >= 0x80
	}
	return t
}()

// isXMLChar reports whether XML 1.0 allows r in a document.
func isXMLChar(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= utf8.MaxRune:
		return true
	}
	return false
}

// char checks the character at b[i], which textStop flagged and which is
// neither markup nor a reference, and returns the offset after it and
// whether it is a carriage return.
func (p *parser) char(i int) (int, bool, error) {
	c := p.b[i]
	switch {
	case c == '\r':
		return i + 1, true, nil
	case c == ']':
		if bytes.HasPrefix(p.b[i:], []byte("]]>")) {
			return 0, false, p.malformed(i, `"]]>" in text`)
		}
		return i + 1, false, nil
	case c < 0x20:
		return 0, false, p.malformed(i, "character %U is not allowed in XML", rune(c))
	}
	r, size := utf8.DecodeRune(p.b[i:])
	if r == utf8.RuneError && size == 1 {
		return 0, false, p.malformed(i, "invalid UTF-8")
	}
	if !isXMLChar(r) {
		return 0, false, p.malformed(i, "character %U is not allowed in XML", r)
	}
	return i + size, false, nil
}

// ref checks the reference at b[i] == '&' and returns the offset after it
// and the character it stands for. Only the five predefined entities and
// character references exist: documents cannot declare entities here.
func (p *parser) ref(i int) (int, rune, error) {
	b := p.b
	// XML allows leading zeros in character references; 32 bytes is room
	// for any sensible number of them and bounds the search.
	semi := bytes.IndexByte(b[i:min(len(b), i+32)], ';')
	if semi < 0 {
		return 0, 0, p.malformed(i, "unterminated or unknown reference")
	}
	name := b[i+1 : i+semi]
	next := i + semi + 1
	switch string(name) {
	case "lt":
		return next, '<', nil
	case "gt":
		return next, '>', nil
	case "amp":
		return next, '&', nil
	case "apos":
		return next, '\'', nil
	case "quot":
		return next, '"', nil
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, p.malformed(i, "undefined entity &%s;", name)
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, 0, p.malformed(i, "invalid character reference")
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, 0, p.malformed(i, "invalid character reference")
		}
		r = r*rune(base) + d
		if r > utf8.MaxRune {
			return 0, 0, p.malformed(i, "invalid character reference")
		}
	}
	if !isXMLChar(r) {
		return 0, 0, p.malformed(i, "character reference to %U, which XML does not allow", r)
	}
	return next, r, nil
}

// text scans character data from b[i] up to the next '<' or the end and
// reports whether it holds references or carriage returns.
func (p *parser) text(i int) (int, bool, error) {
	b := p.b
	raw := false
	for i < len(b) {
		c := b[i]
		if !textStop[c] {
			i++
			continue
		}
		switch c {
		case '<':
			return i, raw, nil
		case '&':
			next, _, err := p.ref(i)
			if err != nil {
				return 0, false, err
			}
			i, raw = next, true
		default:
			next, cr, err := p.char(i)
			if err != nil {
				return 0, false, err
			}
			i, raw = next, raw || cr
		}
	}
	return i, raw, nil
}

// until scans from b[i] to the terminator, checking characters, and returns
// the offset after the terminator.
func (p *parser) until(i int, term string, what string) (int, error) {
	b := p.b
	end := bytes.Index(b[i:], []byte(term))
	if end < 0 {
		return 0, p.malformed(i, "unterminated %s", what)
	}
	end += i
	for j := i; j < end; {
		if c := b[j]; c < 0x80 && c >= 0x20 || c == '\t' || c == '\n' || c == '\r' {
			j++
			continue
		}
		r, size := utf8.DecodeRune(b[j:])
		if r == utf8.RuneError && size == 1 {
			return 0, p.malformed(j, "invalid UTF-8")
		}
		if !isXMLChar(r) {
			return 0, p.malformed(j, "character %U is not allowed in XML", r)
		}
		j += size
	}
	return end + len(term), nil
}

// markup skips the comment, CDATA section or processing instruction at
// b[i] == '<', if there is one, and reports which. Declarations, DOCTYPE
// above all, are refused here: without them no entity can be defined, so
// no input can expand.
func (p *parser) markup(i int) (next int, isCDATA bool, ok bool, err error) {
	b := p.b[i:]
	if len(b) > 1 && b[1] != '!' && b[1] != '?' {
		return i, false, false, nil // a tag, by far the most common case
	}
	switch {
	case bytes.HasPrefix(b, []byte("<!--")):
		end := bytes.Index(b[4:], []byte("--"))
		if end < 0 {
			return 0, false, false, p.malformed(i, "unterminated comment")
		}
		if !bytes.HasPrefix(b[4+end:], []byte("-->")) {
			return 0, false, false, p.malformed(i+4+end, `"--" in a comment`)
		}
		next, err := p.until(i+4, "-->", "comment")
		return next, false, true, err
	case bytes.HasPrefix(b, []byte("<![CDATA[")):
		next, err := p.until(i+9, "]]>", "CDATA section")
		return next, true, true, err
	case bytes.HasPrefix(b, []byte("<?")):
		j := 2
		for j < len(b) && nameByte[b[j]] {
			j++
		}
		if j == 2 || bytes.EqualFold(b[2:j], []byte("xml")) {
			return 0, false, false, p.malformed(i, "misplaced XML declaration or invalid processing instruction")
		}
		if j < len(b) && !isSpace(b[j]) && b[j] != '?' {
			return 0, false, false, p.malformed(i+j, "invalid processing instruction")
		}
		next, err := p.until(i+j, "?>", "processing instruction")
		return next, false, true, err
	case bytes.HasPrefix(b, []byte("<!")):
		return 0, false, false, p.malformed(i, "DOCTYPE and other declarations are not allowed")
	}
	return i, false, false, nil
}

// content scans the content of an element that holds text: character data,
// CDATA sections, comments and processing instructions, up to the next tag,
// at which it stops.
func (p *parser) content() (start, end int, raw bool, err error) {
	start = p.pos
	i := p.pos
	for {
		var r bool
		i, r, err = p.text(i)
		if err != nil {
			return 0, 0, false, err
		}
		raw = raw || r
		if i >= len(p.b) {
			return 0, 0, false, p.malformed(i, "unexpected end of input")
		}
		next, _, ok, err := p.markup(i)
		if err != nil {
			return 0, 0, false, err
		}
		if !ok {
			p.pos = i
			return start, i, raw, nil
		}
		i, raw = next, true
	}
}

// nextTag skips whitespace, comments and processing instructions and reads
// the next tag. Text there is an error: XML-RPC has none between elements.
func (p *parser) nextTag() (tag, error) {
	b := p.b
	for {
		i := p.pos
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		p.pos = i
		if i >= len(b) {
			return tag{}, p.malformed(i, "unexpected end of input")
		}
		if b[i] != '<' {
			if _, _, err := p.text(i); err != nil {
				return tag{}, err
			}
			return tag{}, p.invalid(i, "unexpected text between elements")
		}
		next, cdata, ok, err := p.markup(i)
		if err != nil {
			return tag{}, err
		}
		if cdata {
			return tag{}, p.invalid(i, "unexpected CDATA section between elements")
		}
		if !ok {
			return p.readTag()
		}
		p.pos = next
	}
}

// name reads an element or attribute name at b[i].
func (p *parser) name(i int) (int, error) {
	b := p.b
	j := i
	ascii := true
	for j < len(b) && nameByte[b[j]] {
		ascii = ascii && b[j] < 0x80
		j++
	}
	if j == i || b[i] >= '0' && b[i] <= '9' || b[i] == '-' || b[i] == '.' {
		return 0, p.malformed(i, "invalid name")
	}
	if !ascii && !utf8.Valid(b[i:j]) {
		return 0, p.malformed(i, "invalid UTF-8")
	}
	return j, nil
}

// readTag reads the tag at b[pos] == '<', attributes included; XML-RPC
// gives attributes no meaning, but Apache declares its namespace with one.
func (p *parser) readTag() (tag, error) {
	b := p.b
	t := tag{pos: p.pos}
	i := p.pos + 1
	if i < len(b) && b[i] == '/' {
		t.end = true
		i++
	}
	j, err := p.name(i)
	if err != nil {
		return tag{}, err
	}
	t.raw = b[i:j]
	t.local = t.raw
	if k := bytes.LastIndexByte(t.raw, ':'); k >= 0 {
		t.local = t.raw[k+1:]
	}
	if j < len(b) && b[j] == '>' {
		p.pos = j + 1
		return t, nil
	}
	i = j
	for {
		sp := i
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return tag{}, p.malformed(i, "unexpected end of input in a tag")
		}
		switch {
		case b[i] == '>':
			p.pos = i + 1
			return t, nil
		case b[i] == '/' && !t.end:
			if i+1 < len(b) && b[i+1] == '>' {
				t.empty = true
				p.pos = i + 2
				return t, nil
			}
			return tag{}, p.malformed(i, "invalid tag")
		case t.end || sp == i:
			return tag{}, p.malformed(i, "invalid tag")
		}
		if i, err = p.attribute(i); err != nil {
			return tag{}, err
		}
	}
}

// attribute checks the attribute at b[i] and returns the offset after it.
func (p *parser) attribute(i int) (int, error) {
	b := p.b
	i, err := p.name(i)
	if err != nil {
		return 0, err
	}
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '=' {
		return 0, p.malformed(i, "attribute without a value")
	}
	i++
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '"' && b[i] != '\'' {
		return 0, p.malformed(i, "attribute value not quoted")
	}
	_, end, err := p.attrValue(i)
	return end, err
}

// attrValue checks the quoted attribute value at b[i] and returns the
// offset of its first byte and the offset after the closing quote.
func (p *parser) attrValue(i int) (int, int, error) {
	b := p.b
	quote := b[i]
	i++
	start := i
	for i < len(b) && b[i] != quote {
		switch c := b[i]; {
		case c == '<':
			return 0, 0, p.malformed(i, "'<' in an attribute value")
		case c == '&':
			next, _, err := p.ref(i)
			if err != nil {
				return 0, 0, err
			}
			i = next
		case c >= 0x20 && c < 0x80 || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, p.malformed(i, "invalid UTF-8")
			}
			if !isXMLChar(r) {
				return 0, 0, p.malformed(i, "character %U is not allowed in XML", r)
			}
			i += size
		}
	}
	if i >= len(b) {
		return 0, 0, p.malformed(i, "unterminated attribute value")
	}
	return start, i + 1, nil
}

// prolog reads the byte order mark and XML declaration, if any. A document
// declared in ISO-8859-1 is transcoded to UTF-8 first (Python's clients
// offer that encoding); any other encoding but UTF-8 is refused.
func (p *parser) prolog() error {
	b := p.b
	switch {
	case bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")):
		p.pos = 3
	case bytes.HasPrefix(b, []byte("\xFE\xFF")), bytes.HasPrefix(b, []byte("\xFF\xFE")):
		return p.fail(codeUnsupportedEncoding, 0, "UTF-16 is not supported")
	}
	i := p.pos
	if !bytes.HasPrefix(b[i:], []byte("<?xml")) || i+5 >= len(b) || !isSpace(b[i+5]) {
		return nil
	}
	i += 5
	var latin1 bool
	for n := 0; ; n++ {
		sp := i
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if bytes.HasPrefix(b[i:], []byte("?>")) {
			if n == 0 {
				return p.malformed(i, "XML declaration without a version")
			}
			i += 2
			break
		}
		if sp == i {
			return p.malformed(i, "invalid XML declaration")
		}
		j, err := p.name(i)
		if err != nil {
			return err
		}
		name := string(b[i:j])
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) || b[j] != '=' {
			return p.malformed(j, "invalid XML declaration")
		}
		j++
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) || b[j] != '"' && b[j] != '\'' {
			return p.malformed(j, "invalid XML declaration")
		}
		vs, end, err := p.attrValue(j)
		if err != nil {
			return err
		}
		val := b[vs : end-1]
		switch {
		case n == 0 && name == "version":
			if !bytes.HasPrefix(val, []byte("1.")) {
				return p.malformed(vs, "unsupported XML version %q", val)
			}
		case n > 0 && name == "encoding":
			switch string(bytes.ToLower(val)) {
			case "utf-8", "utf8", "us-ascii", "ascii":
			case "iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1":
				latin1 = true
			default:
				return p.fail(codeUnsupportedEncoding, vs, "encoding %q is not supported; send UTF-8", val)
			}
		case n > 0 && name == "standalone":
		default:
			return p.malformed(i, "invalid XML declaration")
		}
		i = end
	}
	if latin1 {
		p.b = latin1ToUTF8(b)
	}
	p.pos = i
	return nil
}

// latin1ToUTF8 transcodes an ISO-8859-1 document; the declaration it keeps
// is ASCII and so keeps its offsets.
func latin1ToUTF8(b []byte) []byte {
	n := 0
	for _, c := range b {
		if c >= 0x80 {
			n++
		}
	}
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// epilogue checks that only whitespace, comments and processing
// instructions follow the root element.
func (p *parser) epilogue() error {
	b := p.b
	for {
		i := p.pos
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return nil
		}
		if b[i] == '<' {
			next, cdata, ok, err := p.markup(i)
			if err != nil {
				return err
			}
			if ok && !cdata {
				p.pos = next
				continue
			}
		}
		return p.malformed(i, "content after the root element")
	}
}

// root reads the prolog and the root element's start tag.
func (p *parser) root(want string) (tag, error) {
	if err := p.prolog(); err != nil {
		return tag{}, err
	}
	if len(p.b) > math.MaxUint32 {
		return tag{}, p.fail(wire.CodeLimitExceeded, -1, "message larger than 4 GiB") // nodes hold 32-bit offsets
	}
	i := p.pos
	for i < len(p.b) && isSpace(p.b[i]) {
		i++
	}
	if i < len(p.b) && p.b[i] != '<' {
		return tag{}, p.malformed(i, "text before the root element")
	}
	t, err := p.nextTag()
	if err != nil {
		return tag{}, err
	}
	if t.end {
		return tag{}, p.malformed(t.pos, "unexpected end tag")
	}
	if !t.is(want) {
		return tag{}, p.invalid(t.pos, "the root element is <%s>, not <%s>", t.raw, want)
	}
	return t, nil
}

// start reads the next tag and checks that it opens the element local.
func (p *parser) start(local string) (tag, error) {
	t, err := p.nextTag()
	if err != nil {
		return tag{}, err
	}
	if t.end || !t.is(local) {
		return tag{}, p.unexpected(t, "<"+local+">")
	}
	return t, nil
}

// quick reads the start tag open, such as "<value>", if it comes next
// after whitespace, written plainly: the common case, which needs none of
// nextTag's generality.
func (p *parser) quick(open string) (tag, bool) {
	b, i := p.b, p.pos
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if len(b)-i < len(open) || string(b[i:i+len(open)]) != open {
		return tag{}, false
	}
	name := b[i+1 : i+len(open)-1]
	p.pos = i + len(open)
	return tag{raw: name, local: name, pos: i}, true
}

// end reads the next tag and checks that it closes the element raw.
func (p *parser) end(raw []byte) error {
	// Most documents close an element right away, or after a line break.
	b, i := p.b, p.pos
	for i < len(b) && (b[i] == '\n' || b[i] == ' ') {
		i++
	}
	if n := i + 2 + len(raw); n < len(b) && b[i] == '<' && b[i+1] == '/' && b[n] == '>' && string(b[i+2:n]) == string(raw) {
		p.pos = n + 1
		return nil
	}
	t, err := p.nextTag()
	if err != nil {
		return err
	}
	return p.closes(t, raw)
}

// closes checks that t closes the element raw.
func (p *parser) closes(t tag, raw []byte) error {
	if !t.end {
		return p.unexpected(t, "</"+string(raw)+">")
	}
	if !bytes.Equal(t.raw, raw) {
		return p.malformed(t.pos, "</%s> closes <%s>", t.raw, raw)
	}
	return nil
}

// unexpected reports a tag where XML-RPC wants another. An end tag may
// also be one that XML does not allow there, but telling which would mean
// tracking every open element for a rare, equally fatal case.
func (p *parser) unexpected(t tag, want string) error {
	slash := ""
	if t.end {
		slash = "/"
	}
	return p.invalid(t.pos, "unexpected <%s%s>, want %s", slash, t.raw, want)
}

// methodCall parses a request and returns the method name.
func (p *parser) methodCall() (method string, err error) {
	root, err := p.root("methodCall")
	if err != nil {
		return "", err
	}
	if root.empty {
		return "", p.invalid(root.pos, "<methodCall> without <methodName>")
	}
	t, err := p.nextTag()
	if err != nil {
		return "", err
	}
	if t.end || !t.is("methodName") {
		return "", p.invalid(t.pos, "<methodCall> without <methodName>")
	}
	if !t.empty {
		start, end, raw, err := p.content()
		if err != nil {
			return "", err
		}
		if err := p.end(t.raw); err != nil {
			return "", err
		}
		// Pretty printers put the name on a line of its own.
		method = string(trimSpace(p.textOf(start, end, raw)))
	}
	if method == "" {
		return "", p.invalid(t.pos, "empty <methodName>")
	}
	t, err = p.nextTag()
	if err != nil {
		return "", err
	}
	if !t.end && t.is("params") {
		if err := p.paramList(t, -1); err != nil {
			return "", err
		}
		if t, err = p.nextTag(); err != nil {
			return "", err
		}
	}
	if err := p.closes(t, root.raw); err != nil {
		return "", err
	}
	return method, p.epilogue()
}

// paramList parses the content of <params> (start tag t), with at most max
// params when max >= 0.
func (p *parser) paramList(t tag, max int) error {
	if t.empty {
		return nil
	}
	for {
		pt, err := p.nextTag()
		if err != nil {
			return err
		}
		if pt.end {
			return p.closes(pt, t.raw)
		}
		if !pt.is("param") || pt.empty {
			return p.invalid(pt.pos, "unexpected <%s>, want <param> with a <value>", pt.raw)
		}
		if max >= 0 && len(p.params) >= max {
			return p.invalid(pt.pos, "a response holds one param")
		}
		vt, err := p.start("value")
		if err != nil {
			return err
		}
		if len(p.nodes) > math.MaxInt32 {
			return p.fail(wire.CodeLimitExceeded, pt.pos, "too many values")
		}
		p.params = append(p.params, int32(len(p.nodes)))
		if err := p.value(vt); err != nil {
			return err
		}
		if err := p.end(pt.raw); err != nil {
			return err
		}
	}
}

// methodResponse parses a reply: one param (or none), or a fault. It
// returns the index of the fault's value node, or -1.
func (p *parser) methodResponse() (fault int, err error) {
	root, err := p.root("methodResponse")
	if err != nil {
		return -1, err
	}
	if root.empty {
		return -1, p.invalid(root.pos, "empty <methodResponse>")
	}
	t, err := p.nextTag()
	if err != nil {
		return -1, err
	}
	fault = -1
	switch {
	case !t.end && t.is("params"):
		if err := p.paramList(t, 1); err != nil {
			return -1, err
		}
	case !t.end && t.is("fault") && !t.empty:
		vt, err := p.start("value")
		if err != nil {
			return -1, err
		}
		fault = len(p.nodes)
		if err := p.value(vt); err != nil {
			return -1, err
		}
		if err := p.end(t.raw); err != nil {
			return -1, err
		}
	default:
		return -1, p.unexpected(t, "<params> or <fault>")
	}
	if err := p.end(root.raw); err != nil {
		return -1, err
	}
	return fault, p.epilogue()
}

// value parses a <value> element whose start tag vt has been read, with
// everything nested in it. Nesting is tracked on an explicit stack, so the
// parser's own stack stays flat whatever the input.
func (p *parser) value(vt tag) error {
	base := len(p.stack)
	if err := p.open(vt); err != nil {
		return err
	}
	for len(p.stack) > base {
		f := &p.stack[len(p.stack)-1]
		if f.array {
			if t, ok := p.quick("<value>"); ok {
				p.nodes[f.node].num++
				if err := p.open(t); err != nil {
					return err
				}
				continue
			}
		} else {
			if f.inMember {
				if err := p.end(f.member); err != nil {
					return err
				}
				f.inMember = false
				continue
			}
			if t, ok := p.quick("<member>"); ok {
				if err := p.member(f, t); err != nil {
					return err
				}
				continue
			}
		}
		t, err := p.nextTag()
		if err != nil {
			return err
		}
		if f.array {
			if !t.end && t.is("value") {
				p.nodes[f.node].num++
				if err := p.open(t); err != nil {
					return err
				}
				continue
			}
			if err := p.closes(t, f.data); err != nil {
				return err
			}
			if err := p.end(f.typ); err != nil {
				return err
			}
			if err := p.close(); err != nil {
				return err
			}
			continue
		}
		if t.end {
			if err := p.closes(t, f.typ); err != nil {
				return err
			}
			if err := p.close(); err != nil {
				return err
			}
			continue
		}
		if !t.is("member") || t.empty {
			return p.invalid(t.pos, "unexpected <%s> in a struct, want <member>", t.raw)
		}
		if err := p.member(f, t); err != nil {
			return err
		}
	}
	return nil
}

// member reads a struct member's start tag t, its name and its value's
// start tag, appends the member's node and opens the value.
func (p *parser) member(f *frame, t tag) error {
	f.member = t.raw
	nt, ok := p.quick("<name>")
	if !ok {
		var err error
		if nt, err = p.start("name"); err != nil {
			return err
		}
	}
	m := node{kind: kindMember}
	if !nt.empty {
		if err := p.scalarText(&m, nt); err != nil {
			return err
		}
	}
	vt, ok := p.quick("<value>")
	if !ok {
		var err error
		if vt, err = p.start("value"); err != nil {
			return err
		}
	}
	m.skip = uint32(len(p.nodes) + 1)
	p.push(m)
	p.nodes[f.node].num++
	f.inMember = true // before open, which may grow the stack
	return p.open(vt)
}

// close ends the innermost array or struct, whose closing tag has been
// read, and its enclosing </value>.
func (p *parser) close() error {
	f := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	p.nodes[f.node].skip = uint32(len(p.nodes))
	return p.end(f.val)
}

// open parses a value's content after its start tag vt: a scalar
// completely, an array or struct up to its first element, pushing a frame.
func (p *parser) open(vt tag) (err error) {
	idx := len(p.nodes)
	if vt.empty {
		p.push(node{kind: kindString, skip: uint32(idx + 1)})
		return nil
	}
	var t tag
	if b, i := p.b, p.pos; i+1 < len(b) && b[i] == '<' && b[i+1] != '/' && b[i+1] != '!' && b[i+1] != '?' {
		// A typed value right after <value>, the usual case.
		if t, err = p.readTag(); err != nil {
			return err
		}
	} else {
		start, end, raw, err := p.content()
		if err != nil {
			return err
		}
		if t, err = p.readTag(); err != nil {
			return err
		}
		if t.end {
			// An untyped value is a string.
			if err := p.closes(t, vt.raw); err != nil {
				return err
			}
			p.push(node{kind: kindString, start: uint32(start), end: uint32(end), raw: raw, skip: uint32(idx + 1)})
			return nil
		}
		if !p.ignorable(start, end, raw) {
			return p.invalid(start, "text beside a typed value")
		}
	}
	switch string(t.local) {
	case "array", "struct":
		isArray := t.local[0] == 'a'
		k := kindStruct
		if isArray {
			k = kindArray
		}
		p.push(node{kind: k, skip: uint32(idx + 1)})
		if t.empty {
			return p.end(vt.raw)
		}
		if len(p.stack) >= p.maxDepth {
			return p.fail(wire.CodeLimitExceeded, t.pos, "values nested deeper than %d levels", p.maxDepth)
		}
		f := frame{node: idx, array: isArray, val: vt.raw, typ: t.raw}
		if isArray {
			dt, err := p.nextTag()
			if err != nil {
				return err
			}
			if dt.end {
				// <array></array>: no <data>, taken as empty.
				if err := p.closes(dt, t.raw); err != nil {
					return err
				}
				return p.end(vt.raw)
			}
			if !dt.is("data") {
				return p.invalid(dt.pos, "unexpected <%s> in an array, want <data>", dt.raw)
			}
			if dt.empty {
				if err := p.end(t.raw); err != nil {
					return err
				}
				return p.end(vt.raw)
			}
			f.data = dt.raw
		}
		p.stack = append(p.stack, f)
		return nil
	}
	n := node{skip: uint32(idx + 1)}
	switch string(t.local) {
	case "string":
		n.kind = kindString
	case "int", "i4", "i8", "i1", "i2", "biginteger":
		n.kind = kindInt
	case "double", "float", "bigdecimal":
		n.kind = kindDouble
	case "boolean":
		n.kind = kindBool
	case "dateTime.iso8601", "dateTime":
		n.kind = kindTime
	case "base64":
		n.kind = kindBase64
	case "nil":
		n.kind = kindNil
	default:
		return p.invalid(t.pos, "unknown type <%s>", t.raw)
	}
	if !t.empty {
		if err := p.scalarText(&n, t); err != nil {
			return err
		}
	}
	if n.kind != kindString {
		if err := p.scalar(&n); err != nil {
			return p.invalid(t.pos, "%v", err)
		}
	}
	p.push(n)
	return p.end(vt.raw)
}

// scalarText reads the text of the scalar element t and its end tag.
func (p *parser) scalarText(n *node, t tag) error {
	b, start := p.b, p.pos
	end, raw, err := p.text(start)
	if err != nil {
		return err
	}
	if e := end + 2 + len(t.raw); e < len(b) && b[end+1] == '/' && b[e] == '>' && string(b[end+2:e]) == string(t.raw) {
		// Plain text and the end tag, the usual case.
		n.start, n.end, n.raw = uint32(start), uint32(end), raw
		p.pos = e + 1
		return nil
	}
	start, end, raw, err = p.content()
	if err != nil {
		return err
	}
	et, err := p.readTag()
	if err != nil {
		return err
	}
	if !et.end {
		return p.invalid(et.pos, "element <%s> inside <%s>", et.raw, t.raw)
	}
	if err := p.closes(et, t.raw); err != nil {
		return err
	}
	n.start, n.end, n.raw = uint32(start), uint32(end), raw
	return nil
}

// ignorable reports whether b[start:end] holds only whitespace, comments
// and processing instructions.
func (p *parser) ignorable(start, end int, raw bool) bool {
	b := p.b[start:end]
	for i := 0; i < len(b); {
		switch {
		case isSpace(b[i]):
			i++
		case raw && bytes.HasPrefix(b[i:], []byte("<!--")):
			i += 4 + bytes.Index(b[i+4:], []byte("-->")) + 3
		case raw && bytes.HasPrefix(b[i:], []byte("<?")):
			i += 2 + bytes.Index(b[i+2:], []byte("?>")) + 2
		default:
			return false
		}
	}
	return true
}

// textOf returns the text between start and end, unescaped into the
// parser's scratch buffer if need be (valid until the next call).
func (p *parser) textOf(start, end int, raw bool) []byte {
	if !raw {
		return p.b[start:end]
	}
	p.scratch = unescape(p.scratch[:0], p.b[start:end])
	return p.scratch
}

// scalar checks the text of a scalar node and stores its value.
func (p *parser) scalar(n *node) error {
	s := trimSpace(p.textOf(int(n.start), int(n.end), n.raw))
	switch n.kind {
	case kindNil:
		if len(s) != 0 {
			return fmt.Errorf("<nil> with content")
		}
	case kindInt:
		v, ok := parseInt(s)
		if !ok {
			return fmt.Errorf("invalid integer %.40q", s)
		}
		n.num = v
	case kindBool:
		switch {
		case len(s) == 1 && (s[0] == '0' || s[0] == '1'):
			n.num = int64(s[0] - '0')
		case bytes.EqualFold(s, []byte("true")):
			n.num = 1
		case bytes.EqualFold(s, []byte("false")):
			n.num = 0
		default:
			return fmt.Errorf("invalid boolean %.40q", s)
		}
	case kindDouble:
		f, ok := parseDouble(s)
		if !ok {
			return fmt.Errorf("invalid double %.40q", s)
		}
		n.num = int64(math.Float64bits(f))
	case kindTime:
		sec, nsec, ok := parseTime(s)
		if !ok {
			return fmt.Errorf("invalid dateTime.iso8601 %.40q", s)
		}
		n.num, n.start, n.end = sec, uint32(nsec), 0
	case kindBase64:
		size, ok := base64Len(s)
		if !ok {
			return fmt.Errorf("invalid base64")
		}
		n.num = int64(size)
	}
	return nil
}

// parseInt parses a decimal integer with an optional sign, within int64.
func parseInt(s []byte) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseDouble parses a finite decimal number, with or without an exponent.
// Hexadecimal forms, digit separators, infinities and NaN are refused:
// XML-RPC has no representation for the last two.
func parseDouble(s []byte) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == exp {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

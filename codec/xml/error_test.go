package xml_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func TestDecodeRequestErrors(t *testing.T) {
	const (
		parse    = wire.CodeParseError
		invalid  = wire.CodeInvalidRequest
		limit    = wire.CodeLimitExceeded
		encoding = -32701
	)
	v := func(value string) string { return string(call(value)) }
	tests := []struct {
		name string
		msg  string
		code int
		want string // a substring of the message
	}{
		// Not well-formed XML.
		{"empty", "", parse, "unexpected end"},
		{"whitespace", " \n", parse, "unexpected end"},
		{"text", "not xml", parse, "text before the root"},
		{"unterminated", "<methodCall><methodName>m</methodName>", parse, "unexpected end"},
		{"mismatched", "<methodCall><methodName>m</methodname></methodCall>", parse, "closes <methodName>"},
		{"trailing element", "<methodCall><methodName>m</methodName></methodCall><x/>", parse, "after the root"},
		{"trailing text", "<methodCall><methodName>m</methodName></methodCall>x", parse, "after the root"},
		{"bad tag", "<methodCall <methodName>m</methodName></methodCall>", parse, "invalid"},
		{"bad name", "<1methodCall/>", parse, "invalid name"},
		{"attribute unquoted", "<methodCall a=1><methodName>m</methodName></methodCall>", parse, "not quoted"},
		{"attribute with <", `<methodCall a="<"><methodName>m</methodName></methodCall>`, parse, "'<' in an attribute"},
		{"attribute unterminated", `<methodCall a="x`, parse, "unterminated"},
		{"DOCTYPE", "<!DOCTYPE methodCall><methodCall><methodName>m</methodName></methodCall>", parse, "DOCTYPE"},
		{"DOCTYPE after declaration", "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"b\">]><methodCall/>", parse, "DOCTYPE"},
		{"ENTITY inside", v("<value><!ENTITY a \"b\"></value>"), parse, "declarations are not allowed"},
		{"undefined entity", v("<value>&nbsp;</value>"), parse, "undefined entity"},
		{"unterminated entity", v("<value>a & b</value>"), parse, "reference"},
		{"reference to NUL", v("<value>&#0;</value>"), parse, "U+0000"},
		{"reference to surrogate", v("<value>&#xD800;</value>"), parse, "U+D800"},
		{"reference too big", v("<value>&#x110000;</value>"), parse, "invalid character reference"},
		{"reference not a number", v("<value>&#x;</value>"), parse, "invalid character reference"},
		{"invalid UTF-8", v("<value>\xff</value>"), parse, "invalid UTF-8"},
		{"invalid UTF-8 in a name", "<methodCall\xff/>", parse, "invalid UTF-8"},
		{"overlong UTF-8", v("<value>\xc0\xbc</value>"), parse, "invalid UTF-8"},
		{"encoded surrogate", v("<value>\xed\xa0\x80</value>"), parse, "invalid UTF-8"},
		{"NUL", v("<value>a\x00</value>"), parse, "U+0000"},
		{"control", v("<value>\x1b</value>"), parse, "U+001B"},
		{"U+FFFE", v("<value>\uFFFE</value>"), parse, "U+FFFE"},
		{"]]> in text", v("<value>a]]>b</value>"), parse, `"]]>"`},
		{"comment with --", "<!-- a -- b --><methodCall/>", parse, `"--"`},
		{"unterminated comment", "<!-- a", parse, "unterminated comment"},
		{"unterminated CDATA", v("<value><![CDATA[x</value>"), parse, "unterminated CDATA"},
		{"misplaced declaration", "<methodCall><?xml version=\"1.0\"?></methodCall>", parse, "XML declaration"},
		{"declaration without version", "<?xml encoding=\"UTF-8\"?><methodCall/>", parse, "declaration"},
		{"XML 2.0", "<?xml version=\"2.0\"?><methodCall/>", parse, "version"},
		{"end tag mismatch in value", v("<value><int>1</i4></value>"), parse, "closes <int>"},
		{"NUL in comment", "<!-- \x00 --><methodCall/>", parse, "U+0000"},
		// Not XML-RPC.
		{"methodResponse", "<methodResponse><params/></methodResponse>", invalid, "not <methodCall>"},
		{"other root", "<foo/>", invalid, "not <methodCall>"},
		{"no methodName", "<methodCall></methodCall>", invalid, "without <methodName>"},
		{"self-closing root", "<methodCall/>", invalid, "without <methodName>"},
		{"empty methodName", "<methodCall><methodName> </methodName></methodCall>", invalid, "empty <methodName>"},
		{"unknown element", "<methodCall><methodName>m</methodName><foo/></methodCall>", invalid, "unexpected <foo>"},
		{"text between elements", "<methodCall><methodName>m</methodName>junk</methodCall>", invalid, "unexpected text"},
		{"CDATA between elements", "<methodCall><methodName>m</methodName><![CDATA[x]]></methodCall>", invalid, "CDATA"},
		{"param without value", "<methodCall><methodName>m</methodName><params><param></param></params></methodCall>", invalid, "want <value>"},
		{"empty param", "<methodCall><methodName>m</methodName><params><param/></params></methodCall>", invalid, "want <param>"},
		{"unknown type", v("<value><foo>1</foo></value>"), invalid, "unknown type <foo>"},
		{"unknown prefixed type", v("<value><ex:dom>1</ex:dom></value>"), invalid, "unknown type <ex:dom>"},
		{"two types", v("<value><int>1</int><int>2</int></value>"), invalid, "unexpected <int>"},
		{"text beside type", v("<value>a<int>1</int></value>"), invalid, "text beside"},
		{"text after type", v("<value><int>1</int>a</value>"), invalid, "unexpected text"},
		{"element in scalar", v("<value><string><b>x</b></string></value>"), invalid, "element <b> inside <string>"},
		{"bad int", v("<value><int>1x</int></value>"), invalid, "invalid integer"},
		{"empty int", v("<value><int></int></value>"), invalid, "invalid integer"},
		{"self-closing int", v("<value><int/></value>"), invalid, "invalid integer"},
		{"int overflow", v("<value><i8>9223372036854775808</i8></value>"), invalid, "invalid integer"},
		{"int underflow", v("<value><i8>-9223372036854775809</i8></value>"), invalid, "invalid integer"},
		{"int huge", v("<value><biginteger>99999999999999999999999</biginteger></value>"), invalid, "invalid integer"},
		{"bad boolean", v("<value><boolean>2</boolean></value>"), invalid, "invalid boolean"},
		{"bad double", v("<value><double>1.2.3</double></value>"), invalid, "invalid double"},
		{"double inf", v("<value><double>inf</double></value>"), invalid, "invalid double"},
		{"double nan", v("<value><double>nan</double></value>"), invalid, "invalid double"},
		{"double hex", v("<value><double>0x1p3</double></value>"), invalid, "invalid double"},
		{"double overflow", v("<value><double>1e400</double></value>"), invalid, "invalid double"},
		{"double exponent only", v("<value><double>e5</double></value>"), invalid, "invalid double"},
		{"bad datetime", v("<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"datetime month 13", v("<value><dateTime.iso8601>19981317T14:08:55</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"datetime Feb 30", v("<value><dateTime.iso8601>19980230T14:08:55</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"datetime hour 24", v("<value><dateTime.iso8601>19980717T24:00:00</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"datetime trailing", v("<value><dateTime.iso8601>19980717T14:08:55 UTC</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"datetime before year 0", v("<value><dateTime.iso8601>00000101T00:00:00+01:00</dateTime.iso8601></value>"), invalid, "invalid dateTime"},
		{"bad base64", v("<value><base64>a*==</base64></value>"), invalid, "invalid base64"},
		{"base64 one char", v("<value><base64>a</base64></value>"), invalid, "invalid base64"},
		{"base64 data after padding", v("<value><base64>aa==aa</base64></value>"), invalid, "invalid base64"},
		{"base64 bad padding", v("<value><base64>aaa==</base64></value>"), invalid, "invalid base64"},
		{"nil with content", v("<value><nil>x</nil></value>"), invalid, "<nil> with content"},
		{"array without data", v("<value><array><value/></array></value>"), invalid, "want <data>"},
		{"struct without member", v("<value><struct><value/></struct></value>"), invalid, "want <member>"},
		{"member without name", v("<value><struct><member><value/></member></struct></value>"), invalid, "want <name>"},
		{"member without value", v("<value><struct><member><name>a</name></member></struct></value>"), invalid, "want <value>"},
		{"member with two values", v("<value><struct><member><name>a</name><value/><value/></member></struct></value>"), invalid, "unexpected <value>"},
		{"element in name", v("<value><struct><member><name><b/></name><value/></member></struct></value>"), invalid, "element <b> inside <name>"},
		// Limits and encodings.
		{"too deep", v(strings.Repeat("<value><array><data>", 129) + strings.Repeat("</data></array></value>", 129)), limit, "deeper than 128"},
		{"UTF-16 declared", "<?xml version=\"1.0\" encoding=\"UTF-16\"?><methodCall/>", encoding, "UTF-16"},
		{"UTF-16 BOM", "\xFF\xFE<\x00", encoding, "UTF-16"},
		{"Shift_JIS", "<?xml version='1.0' encoding='Shift_JIS'?><methodCall/>", encoding, "Shift_JIS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var req wire.Request
			err := codec.DecodeRequest([]byte(tt.msg), &req)
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an *wire.Error", err)
			}
			if e.Code != tt.code || !strings.Contains(e.Message, tt.want) {
				t.Errorf("got %d %q\nwant %d containing %q", e.Code, e.Message, tt.code, tt.want)
			}
		})
	}
}

func TestErrorPosition(t *testing.T) {
	var req wire.Request
	err := codec.DecodeRequest([]byte("<methodCall>\n  <methodName>m</methodName>\n  <params><param><value><foo/></value></param></params>\n</methodCall>"), &req)
	if err == nil || !strings.Contains(err.Error(), "(line 3, column 25)") {
		t.Errorf("error %v, want line 3, column 25", err)
	}
}

// TestServeErrors checks that errors become faults in the XML-RPC shape,
// through the core.
func TestServeErrors(t *testing.T) {
	s, err := rpc.NewServer(rpc.WithCodecs(codec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("m", func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  string
		code string
	}{
		{"parse", "<methodCall>", "-32700"},
		{"DOCTYPE", "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><methodCall/>", "-32700"},
		{"not a call", "<methodResponse/>", "-32600"},
		{"unknown type", string(call("<value><foo/></value>")), "-32600"},
		{"no method", "<methodCall><methodName>x</methodName></methodCall>", "-32601"},
		{"wrong type", string(call("<value>s</value>")), "-32602"},
		{"encoding", "<?xml version='1.0' encoding='EBCDIC'?><methodCall/>", "-32701"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := s.ServeMessage(context.Background(), codec, []byte(tt.msg), nil)
			want := `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>` + tt.code + `</int></value></member><member><name>faultString</name><value><string>`
			if !bytes.HasPrefix(out, []byte(want)) {
				t.Errorf("got %s\nwant a fault with code %s", out, tt.code)
			}
			var r wire.Reply
			if err := codec.DecodeReply(out, &r); err != nil || r.Error == nil || strconv.Itoa(r.Error.Code) != tt.code {
				t.Errorf("reply %s does not decode to a fault: %v", out, err)
			}
		})
	}
}

func TestLongCharacterReference(t *testing.T) {
	_, got := decodeAll(t, call("<value>&#x000000000000041;&#0000000000066;</value>"))
	if got[0] != "AB" {
		t.Errorf("got %q", got[0])
	}
}

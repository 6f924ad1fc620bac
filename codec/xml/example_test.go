package xml_test

import (
	"context"
	"fmt"

	"github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// A server and client speaking XML-RPC in-process.
func Example() {
	c := xml.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil }); err != nil {
		fmt.Println(err)
		return
	}
	client, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		fmt.Println(err)
		return
	}
	var sum int64
	if err := client.Call(context.Background(), "demo.add", &sum, 2, 3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum)
	// Output: 5
}

func ExampleCodec_AppendCall() {
	msg, err := xml.New().AppendCall(nil, &wire.Call{Method: "demo.add", Args: []any{2, int64(1) << 40}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(msg))
	// Output: <?xml version="1.0"?><methodCall><methodName>demo.add</methodName><params><param><value><int>2</int></value></param><param><value><i8>1099511627776</i8></value></param></params></methodCall>
}

// Decoding a request as Python's xmlrpc.client sends it; params stay
// encoded until the server knows their types.
func ExampleCodec_DecodeRequest() {
	msg := []byte(`<?xml version='1.0'?>
<methodCall>
<methodName>demo.greet</methodName>
<params>
<param>
<value><string>Ada &amp; Charles</string></value>
</param>
<param>
<value><nil/></value></param>
</params>
</methodCall>
`)
	var req wire.Request
	if err := xml.New().DecodeRequest(msg, &req); err != nil {
		fmt.Println(err)
		return
	}
	var name string
	var opt *int
	_ = req.Params.DecodeAt(0, &name)
	_ = req.Params.DecodeAt(1, &opt)
	fmt.Println(req.Method, req.Params.Len(), name, opt)
	// Output: demo.greet 2 Ada & Charles <nil>
}

func ExampleCodec_AppendResponse() {
	msg, _ := xml.New().AppendResponse(nil, &wire.Response{Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: x"}})
	fmt.Println(string(msg))
	// Output: <?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32601</int></value></member><member><name>faultString</name><value><string>method not found: x</string></value></member></struct></value></fault></methodResponse>
}

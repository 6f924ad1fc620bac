package python_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestXMLRPCClientExample runs xmlrpc_client.py against the demo and
// introspection methods over HTTP, as rpcd serves them, with every
// installed Python, and checks every line it prints.
func TestXMLRPCClientExample(t *testing.T) {
	t.Parallel()
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	if err := introspect.Register(s); err != nil {
		t.Fatal(err)
	}
	var demoMethods []string
	for _, m := range s.Methods() {
		if strings.HasPrefix(m.Name, "demo.") {
			demoMethods = append(demoMethods, m.Name)
		}
	}
	url := serveHTTP(t, must(httprpc.NewHandler(s)))

	want := strings.Join([]string{
		"examples.getStateName(41) = South Dakota",
		"validator1.easyStructTest({'moe': 1, 'larry': 2, 'curly': 3}) = 6",
		"demo.add(2**31 - 1, 2**31 - 1) = 4294967294",
		"demo.divide(1, 0) failed: fault 1001: division by zero",
		"multicall demo.add(2, 3) = 5",
		"multicall examples.getStateName(99) failed: fault 1002: no state number 99: valid numbers are 1 to 50",
		"multicall demo.echo([1, 'two', None]) = [1, 'two', None]",
		fmt.Sprintf("system.listMethods(): %s and %d more", strings.Join(demoMethods, ", "), len(s.Methods())-len(demoMethods)),
		"system.methodSignature('demo.add') = [['i8', 'i8', 'i8']]",
		"system.methodHelp('demo.add') = Returns a + b; an overflow is a fault.",
	}, "\n") + "\n"
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			out := py.RunFile(t, time.Minute, "xmlrpc_client.py", url+"/RPC2")
			if out != want {
				t.Errorf("xmlrpc_client.py printed:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

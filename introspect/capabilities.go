package introspect

import "maps"

// capability is one entry of system.getCapabilities: the specification a
// server implements and the version it implements.
type capability struct {
	SpecURL     string `json:"specUrl"`
	SpecVersion int    `json:"specVersion"`
}

// capabilities lists what every polyrpc server with this service implements,
// under the names and URLs that XML-RPC implementations use (xmlrpc-epi,
// xmlrpc-c, phpxmlrpc). No "json-rpc" entry: every specVersion in the
// convention is an int, and JSON-RPC's "2.0" would break clients that decode
// it as one; JSON-RPC clients have rpc.discover instead.
var capabilities = map[string]capability{
	"xmlrpc":         {"http://www.xmlrpc.com/spec", 1},
	"faults_interop": {"http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php", 20010516},
	"introspection":  {"http://xmlrpc-c.sourceforge.net/introspection.html", 1},
	"multicall":      {"http://www.xmlrpc.com/discuss/msgReader$1208", 1},
	"nil":            {"http://ontosys.com/xml-rpc/extensions.php", 20010516},
	"i8":             {"http://ws.apache.org/xmlrpc/types.html", 1},
}

func (svc *service) getCapabilities() (map[string]capability, error) {
	// A copy, so that no codec or caller can change what the next call sees.
	return maps.Clone(capabilities), nil
}

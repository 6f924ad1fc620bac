package interop_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	_ "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/internal/pytest"
)

// pyXMLRPCClient drives a polyrpc server with CPython's own XML-RPC client,
// xmlrpc.client.ServerProxy, as a Python user would. It takes the URL and a
// seed for its random data, and prints one "ok SECTION" line per section.
const pyXMLRPCClient = `
import concurrent.futures, datetime, math, random, sys, xmlrpc.client

url, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
proxy = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)


def check(got, want, what):
    # Exact types too: True is an int to ==, and 1 == 1.0.
    if not same(got, want):
        raise AssertionError(f"{what}: got {got!r}, want {want!r} (seed {seed})")


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def fault(what, fn, *args):
    try:
        got = fn(*args)
    except xmlrpc.client.Fault as f:
        return f.faultCode, f.faultString
    raise AssertionError(f"{what}: returned {got!r}, want a fault (seed {seed})")


# Characters XML 1.0 can carry, from every UTF-8 length, the five that need
# escaping among them. A carriage return cannot round-trip: Python writes it
# raw and every XML parser reads a raw CR as LF (see types()).
CHARS = "abcXYZ019 _.,;<>&'\"\t\n\u00e9\u00df\u00ff\u0416\u20ac\u2028\ufffd\u4e2d\U0001f600\U0001d11e"


def rint():
    return rnd.randint(-2**31, 2**31 - 1)


def rstr(lo=0, hi=40):
    return "".join(rnd.choice(CHARS) for _ in range(rnd.randint(lo, hi)))


def rtime():
    return datetime.datetime(rnd.randint(1, 9999), rnd.randint(1, 12), rnd.randint(1, 28),
                             rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59))


def rfloat():
    return rnd.choice([rnd.uniform(-1e6, 1e6), rnd.random(), rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-300, 300),
                       5e-324, -0.0, 1.7976931348623157e308, float(rint())])


def rvalue(depth=0):
    kinds = ["nil", "bool", "int", "float", "str", "bytes", "time"]
    if depth < 4:
        kinds += ["list", "dict"] * 2
    kind = rnd.choice(kinds)
    if kind == "nil":
        return None
    if kind == "bool":
        return rnd.random() < 0.5
    if kind == "int":
        return rint()
    if kind == "float":
        return rfloat()
    if kind == "str":
        return rstr()
    if kind == "bytes":
        return rnd.randbytes(rnd.randint(0, 100))
    if kind == "time":
        return rtime()
    if kind == "list":
        return [rvalue(depth + 1) for _ in range(rnd.randint(0, 6))]
    return {rstr(0, 12): rvalue(depth + 1) for _ in range(rnd.randint(0, 6))}


def stooges():
    return {"moe": rint(), "larry": rint(), "curly": rint()}


def validator1():
    v = proxy.validator1
    for _ in range(5):
        structs = [stooges() for _ in range(rnd.randint(1, 60))]
        check(v.arrayOfStructsTest(structs), sum(s["curly"] for s in structs), "arrayOfStructsTest")

        s = rstr(0, 2000)
        check(v.countTheEntities(s), {
            "ctLeftAngleBrackets": s.count("<"), "ctRightAngleBrackets": s.count(">"),
            "ctAmpersands": s.count("&"), "ctApostrophes": s.count("'"), "ctQuotes": s.count('"'),
        }, f"countTheEntities({s!r})")

        st = stooges()
        st[rstr(1, 8)] = rvalue()  # members a method does not know are ignored
        check(v.easyStructTest(st), st["moe"] + st["larry"] + st["curly"], "easyStructTest")

        st = {rstr(0, 12): rvalue(1) for _ in range(rnd.randint(0, 12))}
        check(v.echoStructTest(st), st, "echoStructTest")

        args = [rint(), rnd.random() < 0.5, rstr(), rfloat(), rtime(), rnd.randbytes(rnd.randint(0, 300))]
        check(v.manyTypesTest(*args), args, "manyTypesTest")

        strings = [rstr(0, 20) for _ in range(rnd.randint(100, 200))]
        check(v.moderateSizeArrayCheck(strings), strings[0] + strings[-1], "moderateSizeArrayCheck")

        calendar = {}
        for year in ("1999", "2000", "2001"):
            calendar[year] = {f"{m:02d}": {f"{d:02d}": stooges() for d in range(1, rnd.randint(2, 29))}
                              for m in range(1, 13)}
        calendar["2000"]["04"]["01"] = day = stooges()
        check(v.nestedStructTest(calendar), day["moe"] + day["larry"] + day["curly"], "nestedStructTest")

        n = rint()
        check(v.simpleStructReturnTest(n), {"times10": n * 10, "times100": n * 100, "times1000": n * 1000},
              f"simpleStructReturnTest({n})")
    print("ok validator1")


DEMO = ["subtract", "sum", "get_data", "update", "notify_hello", "notify_sum", "examples.getStateName",
        "validator1.arrayOfStructsTest", "validator1.countTheEntities", "validator1.easyStructTest",
        "validator1.echoStructTest", "validator1.manyTypesTest", "validator1.moderateSizeArrayCheck",
        "validator1.nestedStructTest", "validator1.simpleStructReturnTest",
        "demo.echo", "demo.add", "demo.divide", "demo.sleep", "demo.fail"]
SYSTEM = ["system.listMethods", "system.methodSignature", "system.methodHelp", "system.multicall",
          "system.getCapabilities"]
TYPES = {"i8", "int", "boolean", "string", "double", "dateTime.iso8601", "base64", "array", "struct",
         "nil", "undefined"}


def introspection():
    s = proxy.system
    names = s.listMethods()
    check(names, sorted(set(names)), "listMethods is sorted, without duplicates")
    missing = set(DEMO + SYSTEM) - set(names)
    assert not missing, f"listMethods lacks {sorted(missing)}: {names}"
    for name in names:
        sig = s.methodSignature(name)
        if sig != "undef":
            assert isinstance(sig, list) and sig, (name, sig)
            for one in sig:
                assert isinstance(one, list) and one and set(one) <= TYPES, (name, sig)
        check(type(s.methodHelp(name)), str, f"methodHelp({name!r})")
    check(s.methodSignature("demo.add"), [["i8", "i8", "i8"]], "methodSignature(demo.add)")
    check(s.methodSignature("sum"), "undef", "methodSignature(sum), variadic")
    check(s.methodSignature("validator1.easyStructTest"), [["i8", "struct"]], "easyStructTest signature")
    check(s.methodSignature("validator1.countTheEntities"), [["struct", "string"]], "countTheEntities signature")
    check(s.methodSignature("validator1.moderateSizeArrayCheck"), [["string", "array"]], "moderateSizeArrayCheck signature")
    check(s.methodSignature("validator1.manyTypesTest"),
          [["array", "i8", "boolean", "string", "double", "dateTime.iso8601", "base64"]], "manyTypesTest signature")
    check(s.methodSignature("system.listMethods"), [["array"]], "listMethods signature")
    check(s.methodHelp("demo.add"), "Returns a + b; an overflow is a fault.", "methodHelp(demo.add)")
    check(s.methodHelp("validator1.countTheEntities"), "Counts the < > & ' \" characters of a string.",
          "methodHelp(countTheEntities)")
    check(fault("methodHelp(nope)", s.methodHelp, "nope"), (-32602, 'invalid params: no method named "nope"'),
          "methodHelp of an unknown method")
    check(fault("methodSignature(nope)", s.methodSignature, "nope")[0], -32602, "methodSignature of an unknown method")
    caps = s.getCapabilities()
    check(caps["faults_interop"], {"specUrl": "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php",
                                   "specVersion": 20010516}, "getCapabilities faults_interop")
    for cap in ("introspection", "multicall", "nil", "i8"):
        assert cap in caps, (cap, caps)
    # The OpenRPC document travels over XML-RPC too.
    doc = proxy.rpc.discover()
    check(sorted(m["name"] for m in doc["methods"]), names, "rpc.discover names every method")
    add = next(m for m in doc["methods"] if m["name"] == "demo.add")
    check([p["name"] for p in add["params"]], ["a", "b"], "rpc.discover param names of demo.add")
    print("ok introspection")


def multicall():
    mc = xmlrpc.client.MultiCall(proxy)
    mc.demo.add(2, 3)
    mc.demo.divide(1, 0)
    mc.examples.getStateName(41)
    mc.no.such.method()
    mc.validator1.easyStructTest({"moe": 1, "larry": 2, "curly": 3})
    mc.demo.fail(42, "x")
    mc.demo.echo(None)
    results = mc()
    check(len(results.results), 7, "one entry per call")
    check(results[0], 5, "multicall demo.add")
    check(fault("multicall demo.divide", results.__getitem__, 1), (1001, "division by zero"), "multicall demo.divide")
    check(results[2], "South Dakota", "multicall getStateName")
    check(fault("multicall no.such.method", results.__getitem__, 3), (-32601, "method not found: no.such.method"),
          "multicall unknown method")
    check(results[4], 6, "multicall easyStructTest")
    check(fault("multicall demo.fail", results.__getitem__, 5), (42, "x"), "multicall demo.fail")
    check(results[6], None, "multicall demo.echo(None)")
    check(list(xmlrpc.client.MultiCall(proxy)()), [], "an empty multicall")

    # The raw entries: [result] or a fault struct; a nested multicall and a
    # malformed call each cost their own entry only.
    raw = proxy.system.multicall([
        {"methodName": "demo.add", "params": [1, 2]},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "demo.divide", "params": [1, 0]},
        "not a struct",
        {"methodName": "get_data"},
    ])
    check(raw[0], [3], "raw entry of a result")
    check(raw[1]["faultCode"], -32600, "a nested multicall is refused")
    check(raw[2], {"faultCode": 1001, "faultString": "division by zero"}, "raw entry of a fault")
    check(raw[3]["faultCode"], -32600, "a call that is not a struct")
    check(raw[4], [["hello", 5]], "a call without params")
    print("ok multicall")


def faults():
    check(fault("divide", proxy.demo.divide, 1, 0), (1001, "division by zero"), "demo.divide(1, 0)")
    check(fault("fail", proxy.demo.fail, 42, "x"), (42, "x"), 'demo.fail(42, "x")')
    for _ in range(10):
        code, text = rint(), rstr(1, 80)
        check(fault("fail", proxy.demo.fail, code, text, {"data": "dropped"}), (code, text), "demo.fail, random")
    check(fault("nope", proxy.nope), (-32601, "method not found: nope"), "unknown method")
    check(fault("getStateName", proxy.examples.getStateName, 51)[0], 1002, "getStateName(51)")
    check(fault("nestedStructTest", proxy.validator1.nestedStructTest, {})[0], 1004, "nestedStructTest({})")
    check(fault("add str", proxy.demo.add, "a", 1)[0], -32602, "demo.add with a string")
    check(fault("add double", proxy.demo.add, 2.5, 1)[0], -32602, "demo.add with a double")
    check(fault("add arity", proxy.demo.add, 1)[0], -32602, "demo.add with one param")
    check(fault("nan", proxy.demo.echo, math.nan)[0], -32600, "NaN, which XML-RPC cannot carry")
    check(fault("inf", proxy.demo.echo, -math.inf)[0], -32600, "an infinity")
    check(fault("control character", proxy.demo.echo, "\x01")[0], -32700, "a character XML forbids")
    deep = []
    for _ in range(100):
        deep = [deep]
    check(proxy.demo.echo(deep), deep, "an array 100 deep")
    for _ in range(100):
        deep = [deep]
    check(fault("too deep", proxy.demo.echo, deep)[0], -32004, "an array 200 deep, beyond the codec's limit")
    # After all that the server still answers, at / as at /RPC2.
    root = xmlrpc.client.ServerProxy(url.removesuffix("RPC2"), allow_none=True, use_builtin_types=True)
    check(root.demo.add(40, 2), 42, "demo.add at /")
    check(fault("divide at /", root.demo.divide, 1, 0), (1001, "division by zero"), "demo.divide at /")
    print("ok faults")


class I8Marshaller(xmlrpc.client.Marshaller):
    """Python's Marshaller, but ints beyond 32 bits go as <i8> instead of
    raising OverflowError."""
    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_int(self, value, write):
        tag = "int" if -2**31 <= value < 2**31 else "i8"
        write(f"<value><{tag}>{value}</{tag}></value>\n")
    dispatch[int] = dump_int


def types():
    echo = proxy.demo.echo
    values = [
        None, True, False, 0, 1, -1, 2**31 - 1, -2**31,
        0.0, -0.0, 1.0, 1.5, 0.1, -2.5e-10, 1e21, 1e300, 5e-324, 1.7976931348623157e308,
        "", "plain", "<&>'\"]]>", "<![CDATA[x]]>", "\u00e9\u20ac\U0001f600\u2028\ufffd", "  padded \t\n ", "\n",
        b"", b"\x00", bytes(range(256)), rnd.randbytes(10000),
        datetime.datetime(1998, 7, 17, 14, 8, 55), datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59),
        [], {}, [[]], [{}], {"": ""}, {"a": {}}, {" key ": [None]},
        [1, "two", 3.0, [None, True, {"<k&>": b"\x01"}], {"nested": {"deeper": [[], {"x": datetime.datetime(2000, 2, 29)}]}}],
        {"\u00fc\U0001f600": ["\u2603", None, True, 1.5, {"deep": [[]]}]},
    ]
    for v in values:
        check(echo(v), v, "demo.echo round trip")
    for _ in range(50):
        v = rvalue()
        check(echo(v), v, "demo.echo of a random value")
    check(echo((1, (2, 3))), [1, [2, 3]], "tuples travel as arrays")
    check(echo(xmlrpc.client.Binary(b"hi")), b"hi", "xmlrpc.client.Binary")
    check(echo(xmlrpc.client.DateTime("20240229T23:59:58")), datetime.datetime(2024, 2, 29, 23, 59, 58),
          "xmlrpc.client.DateTime")
    # Python writes what it has and drops what XML-RPC cannot say: the zone
    # of an aware datetime, the microseconds. And it writes CR raw, which XML
    # parsers read as LF.
    aware = datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    check(echo(aware), datetime.datetime(2024, 1, 2, 3, 4, 5), "an aware datetime with microseconds")
    check(echo("a\r\nb\rc"), "a\nb\nc", "CR, written raw by Python, read as LF")

    # Big ints. Stock Python refuses to send an int beyond 32 bits...
    for big in (2**31, -2**31 - 1, 2**63 - 1):
        try:
            echo(big)
        except OverflowError:
            pass
        else:
            raise AssertionError(f"Python sent {big} as <int>")
    # ...but reads polyrpc's <i8> replies.
    check(proxy.demo.add(2**31 - 1, 2**31 - 1), 2**32 - 2, "an <i8> result")
    check(proxy.demo.add(-2**31, -2**31), -2**32, "a negative <i8> result")
    check(proxy.validator1.simpleStructReturnTest(-2**31),
          {"times10": -2**31 * 10, "times100": -2**31 * 100, "times1000": -2**31 * 1000}, "<i8> struct members")
    # With a marshaller that writes <i8>, every int64 makes the round trip,
    # and beyond int64 polyrpc refuses the request.
    stock = xmlrpc.client.Marshaller
    xmlrpc.client.Marshaller = I8Marshaller
    try:
        for v in (2**31, -2**31 - 1, 2**53 + 1, 2**63 - 1, -2**63, [2**40, {"k": -2**50}]):
            check(echo(v), v, "demo.echo of an <i8>")
        check(proxy.demo.add(2**62, 2**62 - 1), 2**63 - 1, "demo.add to the largest int64")
        check(fault("add overflow", proxy.demo.add, 2**62, 2**62)[0], 1003, "demo.add overflow")
        for v in (2**63, -2**63 - 1):
            check(fault("beyond int64", echo, v)[0], -32600, f"{v}, beyond int64")
    finally:
        xmlrpc.client.Marshaller = stock
    print("ok types")


def threads():
    # ServerProxy is not thread-safe: one per thread, calls in parallel.
    def work(n):
        local = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)
        for i in range(20):
            check(local.demo.add(n, i), n + i, "demo.add from a thread")
            check(local.validator1.countTheEntities("<&>" * i)["ctAmpersands"], i, "countTheEntities from a thread")
        return n
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        check(sorted(pool.map(work, range(8))), list(range(8)), "every thread done")
    print("ok threads")


validator1()
introspection()
multicall()
faults()
types()
threads()
`

// TestPythonXMLRPCClient runs CPython's xmlrpc.client.ServerProxy against
// the demo and introspection methods behind the real HTTP handler, with
// every installed Python: the validator1 suite on random data, introspection,
// multicall with failing calls inside, faults, and the round trip of every
// XML-RPC type, and calls from several threads. A failure names its random
// seed; POLYRPC_XMLRPC_SEED=n replays it.
func TestPythonXMLRPCClient(t *testing.T) {
	t.Parallel()
	_, hs := newIntrospectedDemoServer(t)
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			seed := rand.Int64()
			if s := os.Getenv("POLYRPC_XMLRPC_SEED"); s != "" {
				var err error
				if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
					t.Fatalf("POLYRPC_XMLRPC_SEED: %v", err)
				}
			}
			t.Logf("random seed %d", seed)
			out := py.Run(t, 2*time.Minute, pyXMLRPCClient, hs.URL+"/RPC2", strconv.FormatInt(seed, 10))
			want := "ok validator1\nok introspection\nok multicall\nok faults\nok types\nok threads\n"
			if out != want {
				t.Errorf("python printed %q, want %q", out, want)
			}
		})
	}
}

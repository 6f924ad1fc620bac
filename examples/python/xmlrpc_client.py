"""Call a polyrpc server over XML-RPC with nothing but Python's standard
library: xmlrpc.client does the encoding, the HTTP and the faults.

usage: python3 xmlrpc_client.py [URL]

URL defaults to http://127.0.0.1:8000/RPC2, where `go run ./cmd/rpcd` serves
its demo methods (at / as well).
"""
import sys
import xmlrpc.client


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/RPC2"
    # allow_none: polyrpc sends and accepts <nil/>. use_builtin_types: base64
    # arrives as bytes and dateTime.iso8601 as datetime.datetime.
    with xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True) as rpc:
        print("examples.getStateName(41) =", rpc.examples.getStateName(41))
        stooges = {"moe": 1, "larry": 2, "curly": 3}
        print(f"validator1.easyStructTest({stooges}) =", rpc.validator1.easyStructTest(stooges))
        # xmlrpc.client sends ints within 32 bits only, but reads the <i8>
        # that polyrpc answers with beyond them.
        print("demo.add(2**31 - 1, 2**31 - 1) =", rpc.demo.add(2**31 - 1, 2**31 - 1))

        # A fault is an exception with the server's code and text.
        try:
            rpc.demo.divide(1, 0)
        except xmlrpc.client.Fault as f:
            print(f"demo.divide(1, 0) failed: fault {f.faultCode}: {f.faultString}")

        # Several calls in one request (system.multicall). Each result is
        # read on its own; a failed call raises its fault when read.
        multi = xmlrpc.client.MultiCall(rpc)
        multi.demo.add(2, 3)
        multi.examples.getStateName(99)
        multi.demo.echo([1, "two", None])
        results = multi()
        for i, call in enumerate(["demo.add(2, 3)", "examples.getStateName(99)", "demo.echo([1, 'two', None])"]):
            try:
                print(f"multicall {call} =", results[i])
            except xmlrpc.client.Fault as f:
                print(f"multicall {call} failed: fault {f.faultCode}: {f.faultString}")

        # Introspection: what the server offers, with signatures and help.
        methods = rpc.system.listMethods()
        demo = [m for m in methods if m.startswith("demo.")]
        print("system.listMethods():", ", ".join(demo), f"and {len(methods) - len(demo)} more")
        print("system.methodSignature('demo.add') =", rpc.system.methodSignature("demo.add"))
        print("system.methodHelp('demo.add') =", rpc.system.methodHelp("demo.add"))


if __name__ == "__main__":
    main()

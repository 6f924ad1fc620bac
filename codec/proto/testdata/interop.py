"""Interop test of polyrpc's protobuf codec: Python builds requests with code
that protoc generated from polyrpc.proto, a Go server serves them, and Python
checks the responses.

Usage: python3 interop.py GENERATED_DIR GOLDEN_DIR

Frames on stdout (requests) and stdin (responses) are a 4-byte big-endian
length and the message; an empty response frame answers a notification, and
an empty request frame ends the session. Failures go to stderr and make the
exit status 1. Run by interop_test.go, not by hand.
"""

import os
import struct
import sys

sys.path.insert(0, sys.argv[1])

import polyrpc_pb2 as rpc  # noqa: E402
import thing_pb2  # noqa: E402

failures = []


def check(name, cond, detail=""):
    if not cond:
        failures.append("%s: %s" % (name, detail))


def send(b):
    sys.stdout.buffer.write(struct.pack(">I", len(b)) + b)
    sys.stdout.buffer.flush()


def recv():
    head = sys.stdin.buffer.read(4)
    if len(head) != 4:
        raise EOFError("no response")
    (n,) = struct.unpack(">I", head)
    return sys.stdin.buffer.read(n)


def call(req):
    send(req.SerializeToString())
    resp = rpc.Response()
    resp.ParseFromString(recv())
    return resp


def value(x):
    """A Value holding the Python value x."""
    v = rpc.Value()
    if x is None:
        v.null_value = rpc.NULL_VALUE
    elif isinstance(x, bool):
        v.bool_value = x
    elif isinstance(x, int):
        if x > 2**63 - 1:
            v.uint_value = x
        else:
            v.int_value = x
    elif isinstance(x, float):
        v.double_value = x
    elif isinstance(x, str):
        v.string_value = x
    elif isinstance(x, bytes):
        v.bytes_value = x
    elif isinstance(x, list):
        v.list_value.SetInParent()
        for e in x:
            v.list_value.values.append(value(e))
    elif isinstance(x, dict):
        v.map_value.SetInParent()
        for k, e in x.items():
            v.map_value.fields[k].CopyFrom(value(e))
    else:
        raise TypeError(type(x))
    return v


def python(v):
    """The Python value a Value holds."""
    kind = v.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    if kind == "list_value":
        return [python(e) for e in v.list_value.values]
    if kind == "map_value":
        return {k: python(e) for k, e in v.map_value.fields.items()}
    if kind in ("int_list", "double_list"):
        return list(getattr(v, kind).values)
    if kind == "time_value":
        t = v.time_value
        return ("time", t.seconds, t.nanos, t.offset)
    return getattr(v, kind)


def request(method, *params, id=1, **named):
    req = rpc.Request(id=id, method=method)
    if named:
        req.named.SetInParent()
        for k, x in named.items():
            req.named.fields[k].CopyFrom(value(x))
    for x in params:
        req.params.append(x if isinstance(x, rpc.Value) else value(x))
    return req


def expect(name, req, want):
    resp = call(req)
    check(name, resp.id == req.id, "id %d for %d" % (resp.id, req.id))
    check(name, not resp.HasField("error"), str(resp.error))
    got = python(resp.result)
    check(name, got == want and type(got) is type(want), "got %r, want %r" % (got, want))
    return resp


# Exact integers, beyond a double's 53 bits.
expect("add", request("add", 9007199254740993, 1, id=7), 9007199254740994)
expect("int64 bounds", request("echo", [-(2**63), 2**63 - 1], id=2**64 - 1), [-(2**63), 2**63 - 1])
expect("uint64 max", request("echo", 2**64 - 1), 2**64 - 1)
expect("named", request("subtract", minuend=42, subtrahend=23), 19)
expect("bytes", request("echo", b"\x00\xff\x80"), b"\x00\xff\x80")
expect("empty", request("echo", ["", b"", [], {}]), ["", b"", [], {}])
expect("unicode", request("echo", "wörld 😀 \u2028"), "wörld 😀 \u2028")
expect("nested", request("echo", [1, "two", {"three": [3.5, None, True, {"four": [b"4"]}]}]),
       [1, "two", {"three": [3.5, None, True, {"four": [b"4"]}]}])
deep = 1
for _ in range(30):
    deep = [deep]
expect("30 levels", request("echo", deep), deep)

# A time with nanoseconds and a zone offset.
t = rpc.Value()
t.time_value.seconds = 981185706
t.time_value.nanos = 789
t.time_value.offset = -12600
expect("time", request("echo", t), ("time", 981185706, 789, -12600))

# A packed list of integers, and a plain list of them into []int64.
ints = rpc.Value()
ints.int_list.values.extend([1, -1, 2**63 - 1, -(2**63)])
expect("int_list", request("echoInts", ints), [1, -1, 2**63 - 1, -(2**63)])
expect("list into []int64", request("echoInts", [5, 6]), [5, 6])

# A protobuf message param and result.
thing = thing_pb2.Thing(id=41, name="x", blob=b"\x01", nums=[1, -2], labels={"a": "b"}, big=2**64 - 1)
thing.child.id = 3
m = rpc.Value(message_value=thing.SerializeToString())
resp = call(request("thing", m))
out = thing_pb2.Thing()
out.ParseFromString(resp.result.message_value)
check("message", resp.result.WhichOneof("kind") == "message_value", str(resp))
check("message", out.id == 42 and out.name == "re: x" and out.big == 2**64 - 1 and out.child.id == 3
      and list(out.nums) == [1, -2] and dict(out.labels) == {"a": "b"}, str(out))

# Errors: code, message, data, details.
resp = call(request("fail", id=3))
check("fail", resp.id == 3 and resp.error.code == 42 and resp.error.message == "boom"
      and python(resp.error.data) == {"big": 2**63 - 1, "why": "because"}
      and not resp.HasField("result"), str(resp))
resp = call(request("nope"))
check("not found", resp.error.code == -32601 and resp.error.message == "method not found: nope", str(resp))
resp = call(request("add", "x", 1))
check("invalid params", resp.error.code == -32602, str(resp))
resp = call(rpc.Request(id=5))
check("no method", resp.error.code == -32600 and resp.id == 5, str(resp))
resp = call(request("failThing"))
detail = thing_pb2.Thing()
check("details", len(resp.error.details) == 1 and resp.error.details[0].Unpack(detail)
      and detail.id == -3 and detail.name == "detail", str(resp))

# Metadata: a deadline the call meets, and keys the server refuses.
req = request("add", 1, 2, id=8)
req.meta["polyrpc-timeout-ms"] = "5000"
req.meta["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
resp = call(req)
check("meta", resp.id == 8 and python(resp.result) == 3 and len(resp.meta) == 0, str(resp))
req = request("add", 1, 2, id=9)
req.meta["Not-Lower"] = "x"
resp = call(req)
check("bad meta", resp.id == 9 and resp.error.code == -32600 and "metadata" in resp.error.message, str(resp))
req = request("add", 1, 2, id=10)
req.meta["polyrpc-timeout-ms"] = "soon"
resp = call(req)
check("bad timeout", resp.id == 10 and resp.error.code == -32600, str(resp))

# A notification gets no response.
send(rpc.Request(method="update", params=[value(1), value(2)], notification=True).SerializeToString())
check("notification", recv() == b"", "a response")

# Unknown fields are skipped.
req = request("add", 1, 2)
raw = req.SerializeToString() + b"\xa0\x06\x01\xaa\x06\x03abc"
send(raw)
resp = rpc.Response()
resp.ParseFromString(recv())
check("unknown fields", python(resp.result) == 3, str(resp))

send(b"")

# Python reads each golden fixture and writes it back deterministically, byte
# for byte: the Go encoder's output is canonical for Python's protobuf too.
golden = sys.argv[2]
for name in sorted(os.listdir(golden)):
    with open(os.path.join(golden, name), "rb") as f:
        b = f.read()
    msg = rpc.Request() if name.startswith("call_") else rpc.Response()
    msg.ParseFromString(b)
    again = msg.SerializeToString(deterministic=True)
    check("golden " + name, again == b, "Python writes %s" % again.hex())

if failures:
    sys.stderr.write("\n".join(failures) + "\n")
    sys.exit(1)

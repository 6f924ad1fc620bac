"""Call a polyrpc server in its protobuf codec with python3-protobuf, over HTTP
or over authenticated TCP frames.

usage: python3 protobuf_client.py http URL KEYFILE
       python3 protobuf_client.py tcp HOST:PORT KEYFILE

The module polyrpc_pb2 is generated from the envelope schema that polyrpc
ships, codec/proto/polyrpc.proto, and must be on PYTHONPATH:

    protoc --python_out=OUTDIR -I codec/proto codec/proto/polyrpc.proto
    PYTHONPATH=OUTDIR python3 protobuf_client.py http http://127.0.0.1:8000/ -

Each call is one Request message and each answer one Response message; a
param or result is a Value, a dynamically typed oneof that keeps int64
exact. Over HTTP a message is a POST body with Content-Type
application/x-protobuf (the key file is not used). Over TCP,
multiprocessing.connection does the HMAC handshake with the key file's
exact bytes and carries each message as one length-prefixed frame. Python
3.11 and older speak only the legacy HMAC-MD5 handshake: the server must
allow it (rpcd -auth-allow-md5).

Each line printed is checked here too: a value that does not come back
exactly as sent stops the script with an AssertionError.
"""
import calendar
import datetime
import itertools
import sys
import urllib.error
import urllib.request
from multiprocessing.connection import Client

import polyrpc_pb2 as pb

CONTENT_TYPE = "application/x-protobuf"
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


# Python values to Values and back.

def to_value(x):
    v = pb.Value()
    if x is None:
        v.null_value = pb.NULL_VALUE
    elif isinstance(x, bool):
        v.bool_value = x
    elif isinstance(x, int):
        if INT64_MIN <= x <= INT64_MAX:
            v.int_value = x
        elif 0 <= x <= UINT64_MAX:
            v.uint_value = x
        else:
            raise OverflowError(f"{x} fits neither int64 nor uint64")
    elif isinstance(x, float):
        v.double_value = x
    elif isinstance(x, str):
        v.string_value = x
    elif isinstance(x, (bytes, bytearray)):
        v.bytes_value = bytes(x)
    elif isinstance(x, datetime.datetime):
        if x.tzinfo is None:
            raise ValueError("a naive datetime is no instant: give it a tzinfo")
        v.time_value.seconds = calendar.timegm(x.utctimetuple())
        v.time_value.nanos = x.microsecond * 1000
        v.time_value.offset = int(x.utcoffset().total_seconds())
    elif isinstance(x, (list, tuple)):
        v.list_value.SetInParent()  # an empty list is still a list
        for e in x:
            v.list_value.values.append(to_value(e))
    elif isinstance(x, dict):
        v.map_value.SetInParent()
        for k, e in x.items():
            v.map_value.fields[k].CopyFrom(to_value(e))
    else:
        raise TypeError(f"no Value for {type(x).__name__}")
    return v


def from_value(v):
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind in ("bool_value", "int_value", "uint_value", "double_value",
                "string_value", "bytes_value", "message_value"):
        return getattr(v, kind)
    if kind == "time_value":
        t = v.time_value
        zone = datetime.timezone(datetime.timedelta(seconds=t.offset))
        utc = datetime.datetime.fromtimestamp(t.seconds, datetime.timezone.utc)
        return (utc + datetime.timedelta(microseconds=t.nanos // 1000)).astimezone(zone)
    if kind == "list_value":
        return [from_value(e) for e in v.list_value.values]
    if kind == "map_value":
        fields = v.map_value.fields  # a protobuf map has no order: sort the keys
        return {k: from_value(fields[k]) for k in sorted(fields)}
    if kind in ("int_list", "double_list"):
        return list(getattr(v, kind).values)
    raise ValueError(f"unknown Value kind {kind}")


class Fault(Exception):
    def __init__(self, error):
        super().__init__(f"fault {error.code}: {error.message}")
        self.code, self.message = error.code, error.message
        self.data = from_value(error.data) if error.HasField("data") else None


# Transports: each sends one serialized Request and returns the serialized
# Response.

class HTTPTransport:
    def __init__(self, url):
        self.url = url

    def post(self, body):
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": CONTENT_TYPE})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"HTTP {e.code}: {e.read()!r}") from None

    def roundtrip(self, body):
        status, ctype, reply = self.post(body)
        assert status == 200 and ctype == CONTENT_TYPE, (status, ctype)
        return reply

    def notify(self, body):
        status, _, reply = self.post(body)
        assert status == 204 and reply == b"", (status, reply)


class FrameTransport:
    def __init__(self, conn):
        self.conn = conn

    def roundtrip(self, body):
        self.conn.send_bytes(body)
        return self.conn.recv_bytes()

    def notify(self, body):
        self.conn.send_bytes(body)  # no Response comes


class RPC:
    def __init__(self, transport):
        self.transport = transport
        self.ids = itertools.count(1)

    def call_raw(self, method, *params, named=None):
        """Returns the Response message of a call."""
        req = pb.Request(id=next(self.ids), method=method)
        if named is not None:
            req.named.SetInParent()
            for k, x in named.items():
                req.named.fields[k].CopyFrom(to_value(x))
        for x in params:
            req.params.append(x if isinstance(x, pb.Value) else to_value(x))
        resp = pb.Response.FromString(self.transport.roundtrip(req.SerializeToString()))
        assert resp.id == req.id, (resp.id, req.id)
        return resp

    def call(self, method, *params, named=None):
        resp = self.call_raw(method, *params, named=named)
        if resp.HasField("error"):
            assert not resp.HasField("result"), resp
            raise Fault(resp.error)
        return from_value(resp.result)

    def notify(self, method, *params):
        req = pb.Request(method=method, notification=True, params=[to_value(x) for x in params])
        self.transport.notify(req.SerializeToString())


def echo(rpc, label, value, kind):
    """Sends value through demo.echo and checks that it comes back as it
    went, as a Value of the given kind."""
    resp = rpc.call_raw("demo.echo", value)
    assert not resp.HasField("error"), resp.error
    got_kind = resp.result.WhichOneof("kind")
    got = from_value(resp.result)
    assert got_kind == kind, (label, got_kind, kind)
    assert got == value and type(got) is type(value), (value, got)
    print(f"demo.echo({label}) = {got!r} ({got_kind})")


def exercise(rpc):
    print("examples.getStateName(41) =", rpc.call("examples.getStateName", 41))

    # int64 is exact over its whole range, uint64 above it.
    echo(rpc, "2**63 - 1", INT64_MAX, "int_value")
    echo(rpc, "-2**63", INT64_MIN, "int_value")
    echo(rpc, "2**53 + 1", 2**53 + 1, "int_value")
    echo(rpc, "2**64 - 1", UINT64_MAX, "uint_value")
    total = rpc.call("demo.add", 2**62, 2**62 - 1)
    assert total == INT64_MAX, total
    print("demo.add(2**62, 2**62 - 1) =", total)

    echo(rpc, "'héllo, 世界'", "héllo, 世界", "string_value")
    echo(rpc, "b'\\x00\\xffbin'", b"\x00\xffbin", "bytes_value")
    echo(rpc, "''", "", "string_value")
    echo(rpc, "[]", [], "list_value")
    echo(rpc, "{}", {}, "map_value")
    nested = {"list": [1, "two", None, True, 2.5, [b"\x01"]], "map": {"k": {"deep": [-1]}}}
    echo(rpc, "nested list/map", nested, "map_value")

    # A time keeps its zone's offset; Python's datetime keeps microseconds.
    ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    when = datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=ist)
    resp = rpc.call_raw("demo.echo", when)
    t = resp.result.time_value
    assert (t.seconds, t.nanos, t.offset) == (1709231398, 123456000, 19800), t
    assert from_value(resp.result) == when
    print(f"demo.echo({when.isoformat()}) = seconds {t.seconds}, nanos {t.nanos}, offset {t.offset}")

    # A packed list of ints is a param like any other list.
    packed = pb.Value()
    packed.int_list.values.extend([INT64_MIN, 0, INT64_MAX])
    got = rpc.call("demo.echo", packed)
    assert got == [INT64_MIN, 0, INT64_MAX], got
    print("demo.echo(int_list [-2**63, 0, 2**63 - 1]) =", got)

    # Named params are a Map.
    diff = rpc.call("subtract", named={"minuend": 42, "subtrahend": 23})
    assert diff == 19, diff
    print("subtract(minuend=42, subtrahend=23) =", diff)

    # Faults: code, message and data.
    try:
        rpc.call("demo.divide", 1, 0)
    except Fault as f:
        assert (f.code, f.message, f.data) == (1001, "division by zero", None), f
        print("demo.divide(1, 0) failed:", f)
    else:
        raise AssertionError("demo.divide(1, 0) did not fail")
    try:
        rpc.call("demo.fail", 4000, "custom", {"why": [1, "two"]})
    except Fault as f:
        assert (f.code, f.message, f.data) == (4000, "custom", {"why": [1, "two"]}), f
        print(f"demo.fail(4000, 'custom', data) failed: {f}, data {f.data!r}")
    else:
        raise AssertionError("demo.fail did not fail")
    try:
        rpc.call("no.such.method")
    except Fault as f:
        assert f.code == -32601, f
        print("no.such.method failed with code", f.code)
    else:
        raise AssertionError("no.such.method did not fail")

    # A notification gets no Response; the next call's is the next message.
    rpc.notify("notify_hello", 7)
    print("examples.getStateName(1) after a notification =", rpc.call("examples.getStateName", 1))


def main():
    mode, address, keyfile = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "http":
        exercise(RPC(HTTPTransport(address)))
    elif mode == "tcp":
        host, _, port = address.rpartition(":")
        with open(keyfile, "rb") as f:
            key = f.read()
        with Client((host, int(port)), authkey=key) as conn:
            exercise(RPC(FrameTransport(conn)))
    else:
        sys.exit(f"unknown mode {mode!r}: http or tcp")
    print("ok")


if __name__ == "__main__":
    main()

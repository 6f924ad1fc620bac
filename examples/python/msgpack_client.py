"""Call a polyrpc server in MessagePack-RPC with python3-msgpack, over HTTP
or over authenticated TCP frames.

usage: python3 msgpack_client.py http URL KEYFILE
       python3 msgpack_client.py tcp HOST:PORT KEYFILE

Every message is a msgpack-rpc array: a request [0, msgid, method, params],
a response [1, msgid, error, result], a notification [2, method, params].
Over HTTP each request is one POST body with Content-Type
application/msgpack (the key file is not used). Over TCP,
multiprocessing.connection does the HMAC handshake with the key file's
exact bytes (a trailing newline is part of the key) and carries each message
as one length-prefixed frame. Python 3.11 and older speak only the legacy
HMAC-MD5 handshake: the server must allow it (rpcd -auth-allow-md5).

Each line printed is checked here too: a value that does not come back
exactly as sent stops the script with an AssertionError.
"""
import itertools
import sys
import urllib.error
import urllib.request
from multiprocessing.connection import Client

import msgpack

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2


class Fault(Exception):
    """An error the server sent: a map with code, message and maybe data."""

    def __init__(self, error):
        if isinstance(error, dict):
            code, message, data = error.get("code"), error.get("message"), error.get("data")
        else:  # other msgpack-rpc servers send a bare string
            code, message, data = None, str(error), None
        super().__init__(f"fault {code}: {message}")
        self.code, self.message, self.data = code, message, data


def pack(obj):
    # use_bin_type (the default of msgpack 1.0) keeps str as str and bytes
    # as bin; msgpack.Timestamp values become the timestamp extension (-1).
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    # raw=False turns str into Python str and leaves bin as bytes; timestamp=0
    # returns the extension as a msgpack.Timestamp.
    return msgpack.unpackb(data, raw=False, timestamp=0)


class HTTPTransport:
    def __init__(self, url):
        self.url = url

    def roundtrip(self, body):
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/msgpack"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                ctype = r.headers.get("Content-Type")
                assert ctype == "application/msgpack", ctype
                return r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"HTTP {e.code}: {e.read()!r}") from None

    def notify(self, body):
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/msgpack"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 204 and r.read() == b"", (r.status, r.headers)


class FrameTransport:
    def __init__(self, conn):
        self.conn = conn

    def roundtrip(self, body):
        self.conn.send_bytes(body)
        return self.conn.recv_bytes()

    def notify(self, body):
        self.conn.send_bytes(body)  # no reply comes


class RPC:
    def __init__(self, transport):
        self.transport = transport
        self.msgids = itertools.count(1)

    def call(self, method, *params):
        msgid = next(self.msgids)
        reply = unpack(self.transport.roundtrip(pack([REQUEST, msgid, method, list(params)])))
        kind, got_id, error, result = reply
        assert kind == RESPONSE and got_id == msgid, reply
        if error is not None:
            assert result is None, reply
            raise Fault(error)
        return result

    def notify(self, method, *params):
        self.transport.notify(pack([NOTIFICATION, method, list(params)]))


def echo(rpc, label, value):
    """Sends value through demo.echo and checks that it comes back as it went."""
    got = rpc.call("demo.echo", value)
    assert type(got) is type(value) and got == value, (value, got)
    print(f"demo.echo({label}) = {got!r} ({type(got).__name__})")


def exercise(rpc):
    print("examples.getStateName(41) =", rpc.call("examples.getStateName", 41))

    # Integers are exact over the whole int64 and uint64 ranges.
    echo(rpc, "2**63 - 1", 2**63 - 1)
    echo(rpc, "-2**63", -(2**63))
    echo(rpc, "2**64 - 1", 2**64 - 1)
    total = rpc.call("demo.add", 2**62, 2**62 - 1)
    assert total == 2**63 - 1, total
    print("demo.add(2**62, 2**62 - 1) =", total)

    # str and bin stay apart.
    echo(rpc, "'héllo'", "héllo")
    echo(rpc, "b'\\x00\\xffbin'", b"\x00\xffbin")
    echo(rpc, "['a', b'a']", ["a", b"a"])

    # Timestamps travel as the timestamp extension (type -1), to the nanosecond.
    ts = msgpack.Timestamp(1700000000, 123456789)
    echo(rpc, "Timestamp(1700000000, 123456789)", ts)

    # Maps, arrays and nil.
    echo(rpc, "{'list': [1, None, True, 1.5], 'map': {'k': 'v'}}",
         {"list": [1, None, True, 1.5], "map": {"k": "v"}})

    # A fault is the error map: code and message.
    try:
        rpc.call("demo.divide", 1, 0)
    except Fault as f:
        assert (f.code, f.message) == (1001, "division by zero"), f
        print("demo.divide(1, 0) failed:", f)
    else:
        raise AssertionError("demo.divide(1, 0) did not fail")

    # A fault with data, as the method gave it.
    try:
        rpc.call("demo.fail", 4000, "custom", {"why": [1, "two"]})
    except Fault as f:
        assert (f.code, f.message, f.data) == (4000, "custom", {"why": [1, "two"]}), f
        print(f"demo.fail(4000, 'custom', data) failed: {f}, data {f.data!r}")

    try:
        rpc.call("no.such.method")
    except Fault as f:
        assert f.code == -32601, f
        print("no.such.method failed with code", f.code)

    # A notification gets no reply; the next call's reply is the next message.
    rpc.notify("notify_hello", 7)
    print("subtract(42, 23) after a notification =", rpc.call("subtract", 42, 23))


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

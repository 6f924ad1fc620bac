"""Interop peer for the msgpack codec's tests, run with the system python3
and its msgpack package (python3-msgpack).

  interop.py requests   prints requests packed by Python, one hex line each
  interop.py check      reads the Go side's hex lines from stdin (the
                        replies to those requests, then a call Go packed)
                        and asserts what Python decodes from them
  interop.py stream     a stock msgpack-rpc client on stdin and stdout:
                        writes the requests back to back, unframed, reads
                        the replies with an Unpacker, asserts them, and
                        reports "ok" on stderr
"""
import sys

import msgpack
from msgpack import Timestamp

ECHO = {
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "uint64_max": 2**64 - 1,
    "big53": 2**53 + 1,
    "str": "h\u00e9llo \U0001F600",
    "bin": b"\x00\xc1\xff",
    "empty_str": "",
    "empty_bin": b"",
    "float": 0.1,
    "nil": None,
    "true": True,
    "nested": [1, [2, [3, {"k": []}]]],
    "empty_map": {},
    "ts32": Timestamp(1700000000, 0),
    "ts64": Timestamp(1700000000, 123456789),
    "ts96": Timestamp(-2208988800, 1),
}

REQUESTS = [
    [0, 1, "echo", [ECHO]],
    [0, 2, "subtract", {"minuend": 42, "subtrahend": 23}],
    [2, "update", [1, 2]],
    [0, 3, "nope", []],
    [0, 4, "fail", []],
    [0, 5, "subtract", [1, "x"]],
    [0, 2**32 - 1, "sum", list(range(20))],
]


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=True)


def check(lines):
    check_replies([unpack(bytes.fromhex(line)) if line else None for line in lines[:len(REQUESTS)]])
    call = unpack(bytes.fromhex(lines[len(REQUESTS)]))
    assert call == [0, 2**64 - 1, "m\u00e9thod",
                    [2**64 - 1, -(2**63), "s", b"b", [], {}, None, 1.5,
                     Timestamp(1700000000, 5), {"x": 1, "y": -2, "label": "p"}]], call
    assert type(call[3][2]) is str and type(call[3][3]) is bytes
    print("ok")


def stream():
    out = sys.stdout.buffer
    for req in REQUESTS:
        out.write(pack(req))
    out.flush()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
    by_id = {}
    want = sum(1 for req in REQUESTS if req[0] == 0)
    while len(by_id) < want:
        data = sys.stdin.buffer.read1(65536)
        if not data:
            raise SystemExit("the stream ended after %d replies" % len(by_id))
        unpacker.feed(data)
        for reply in unpacker:
            by_id[reply[1]] = reply
    check_replies([by_id.get(req[1]) if req[0] == 0 else None for req in REQUESTS])
    sys.stderr.write("ok\n")


def check_replies(replies):
    """Asserts the replies to REQUESTS, in order, None for the notification."""
    # [1, msgid, error, result] for each request; nothing for the notification.
    echo = replies[0]
    assert echo[:3] == [1, 1, None], echo
    got = echo[3]
    assert got == ECHO, (got, ECHO)
    for key in ("int64_max", "int64_min", "uint64_max", "big53"):
        assert type(got[key]) is int and got[key] == ECHO[key], key
    assert type(got["str"]) is str and type(got["bin"]) is bytes
    assert type(got["empty_str"]) is str and type(got["empty_bin"]) is bytes
    assert isinstance(got["ts64"], Timestamp) and got["ts64"].nanoseconds == 123456789

    assert replies[1] == [1, 2, None, 19], replies[1]
    assert replies[2] is None, replies[2]
    assert replies[3] == [1, 3, {"code": -32601, "message": "method not found: nope"}, None], replies[3]
    assert replies[4] == [1, 4, {"code": 42, "message": "boom",
                                 "data": {"big": 2**63 - 1, "why": "because"}}, None], replies[4]
    err = replies[5][2]
    assert replies[5][1] == 5 and err["code"] == -32602 and "param 2" in err["message"], replies[5]
    assert replies[6] == [1, 2**32 - 1, None, sum(range(20))], replies[6]


def main():
    if sys.argv[1] == "requests":
        for req in REQUESTS:
            print(pack(req).hex())
    elif sys.argv[1] == "stream":
        stream()
    else:
        check(sys.stdin.read().split("\n"))


main()

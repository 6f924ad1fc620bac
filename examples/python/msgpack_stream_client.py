"""Call a polyrpc server the way stock msgpack-rpc clients do: msgpack objects
written back to back on a plain TCP connection, without frames, read back
with a streaming msgpack.Unpacker. polyrpc's TCP listener accepts such a
connection when it runs without authentication (a handshake is framed) and
answers in kind.

usage: python3 msgpack_stream_client.py HOST:PORT

All requests are written at once; calls on one connection run concurrently,
so the responses are matched to the requests by msgid, not by order.
"""
import socket
import sys

import msgpack


def main():
    host, _, port = sys.argv[1].rpartition(":")
    calls = {
        1: ("examples.getStateName", [41]),
        2: ("demo.add", [2**62, 2**62 - 1]),
        3: ("demo.echo", [[2**64 - 1, "str", b"bin", msgpack.Timestamp(1, 2)]]),
        4: ("demo.divide", [1, 0]),
        5: ("subtract", [42, 23]),
    }
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        out = b"".join(msgpack.packb([0, msgid, method, params])
                       for msgid, (method, params) in calls.items())
        # A notification in the middle of the stream gets no response.
        out += msgpack.packb([2, "notify_hello", [7]])
        sock.sendall(out)

        unpacker = msgpack.Unpacker(raw=False, timestamp=0)
        replies = {}
        while len(replies) < len(calls):
            data = sock.recv(4096)
            if not data:
                raise SystemExit(f"connection closed after {len(replies)} replies")
            unpacker.feed(data)
            for kind, msgid, error, result in unpacker:
                assert kind == 1 and msgid in calls and msgid not in replies, (kind, msgid)
                replies[msgid] = (error, result)

    for msgid, (method, params) in calls.items():
        error, result = replies[msgid]
        call = f"{method}({', '.join(map(repr, params))})"
        if error is None:
            print(f"{call} = {result!r}")
        else:
            print(f"{call} failed: fault {error['code']}: {error['message']}")


if __name__ == "__main__":
    main()

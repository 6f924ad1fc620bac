"""Call a polyrpc server over authenticated TCP with nothing but Python's
standard library: multiprocessing.connection does the framing and the HMAC
handshake, each frame carries one JSON-RPC 2.0 message.

usage: python3 tcp_client.py HOST PORT KEYFILE

The key file's exact bytes are the key (a trailing newline is part of it),
as with rpcd -auth-key-file. Python 3.11 and older only speak the legacy
HMAC-MD5 handshake: the server must run with -auth-allow-md5 for them.
"""
import itertools
import json
import sys
from multiprocessing.connection import Client


class Fault(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(f"fault {code}: {message}")
        self.code, self.message, self.data = code, message, data


class RPC:
    def __init__(self, conn):
        self.conn = conn
        self.ids = itertools.count(1)

    def call(self, method, *params):
        rid = next(self.ids)
        self.conn.send_bytes(json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": list(params), "id": rid}).encode())
        reply = json.loads(self.conn.recv_bytes())
        assert reply["id"] == rid, reply
        if "error" in reply:
            e = reply["error"]
            raise Fault(e["code"], e["message"], e.get("data"))
        return reply["result"]


def main():
    host, port, keyfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(keyfile, "rb") as f:
        key = f.read()
    with Client((host, port), authkey=key) as conn:
        rpc = RPC(conn)
        print("examples.getStateName(41) =", rpc.call("examples.getStateName", 41))
        print("demo.add(2**62, 2**62 - 1) =", rpc.call("demo.add", 2**62, 2**62 - 1))
        print("subtract(42, 23) =", rpc.call("subtract", 42, 23))
        try:
            rpc.call("demo.divide", 1, 0)
        except Fault as f:
            print("demo.divide(1, 0) failed:", f)


if __name__ == "__main__":
    main()

"""Helpers shared by the python3 peers of procshare's interop tests (tests/python.rs)."""
import sys

# What each side sends, checked by the other side.
FROM_PYTHON_BYTES = b"bytes from python"
FROM_PYTHON_OBJ = [1, 2.5, "str", b"raw", (1, "t"), {"k": None, "n": -7}, None, True]
FROM_RUST_BYTES = b"bytes from rust"
FROM_RUST_OBJ = {"answer": 42, "list": [1, 2, 3], "none": None, "pair": (True, "x"), "f": -0.5}


def parse_address(text):
    """`tcp:HOST:PORT` -> (HOST, PORT); anything else is a Unix socket path."""
    if text.startswith("tcp:"):
        host, port = text[4:].rsplit(":", 1)
        return (host, int(port))
    return text


def format_address(address):
    if isinstance(address, tuple):
        return "tcp:%s:%d" % address
    return address


def key_arg(text):
    return None if text == "-" else text.encode()


def say(*words):
    print(*words, flush=True)


def check(what, got, expected):
    if got != expected:
        say("MISMATCH", what, repr(got), "!=", repr(expected))
        sys.exit(4)


def exchange(conn, first):
    """Python sends first (`first` is True) or receives first; then the other half."""
    def send():
        conn.send_bytes(FROM_PYTHON_BYTES)
        conn.send(FROM_PYTHON_OBJ)

    def recv():
        check("bytes", conn.recv_bytes(), FROM_RUST_BYTES)
        check("object", conn.recv(), FROM_RUST_OBJ)

    if first:
        send()
        recv()
    else:
        recv()
        send()

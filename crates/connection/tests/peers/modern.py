"""CPython 3.12's side of the handshake ({sha256} form), played step by step with the
standard hmac module over an unauthenticated 3.11 Connection (which frames messages the
same way), as Lib/multiprocessing/connection.py 3.12 does in deliver_challenge,
answer_challenge, _create_response and _verify_challenge.

usage: modern.py server ADDRESS KEY   (prints READY <address>, accepts one client)
       modern.py client ADDRESS KEY
Prints OK (exit 0), or AUTHFAIL <why> (exit 3).
"""
import hmac
import os
import sys
from multiprocessing.connection import Client, Listener

from common import parse_address, format_address, key_arg, say, exchange

CHALLENGE, WELCOME, FAILURE = b"#CHALLENGE#", b"#WELCOME#", b"#FAILURE#"
ALLOWED = {b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"}


class AuthFail(Exception):
    pass


def digest_and_payload(message):
    if len(message) in (20, 16):
        return "", message
    if message.startswith(b"{"):
        curly = message.find(b"}", 1, 10)
        if curly > 0 and message[1:curly] in ALLOWED:
            return message[1:curly].decode("ascii"), message[curly + 1:]
    raise AuthFail("unsupported message: %r" % (message,))


def deliver_challenge(conn, key):
    message = b"{sha256}" + os.urandom(40)
    conn.send_bytes(CHALLENGE + message)
    response = conn.recv_bytes(256)
    name, mac = digest_and_payload(response)
    expected = hmac.new(key, message, name or "md5").digest()
    if len(expected) != len(mac) or not hmac.compare_digest(expected, mac):
        conn.send_bytes(FAILURE)
        raise AuthFail("digest received was wrong")
    conn.send_bytes(WELCOME)


def answer_challenge(conn, key):
    message = conn.recv_bytes(256)
    if not message.startswith(CHALLENGE):
        raise AuthFail("expected a challenge")
    message = message[len(CHALLENGE):]
    if len(message) < 20:
        raise AuthFail("challenge too short")
    name = digest_and_payload(message)[0]
    if not name:
        response = hmac.new(key, message, "md5").digest()
    else:
        response = b"{%s}%s" % (name.encode("ascii"), hmac.new(key, message, name).digest())
    conn.send_bytes(response)
    if conn.recv_bytes(256) != WELCOME:
        raise AuthFail("digest sent was rejected")


role, address, key = sys.argv[1], parse_address(sys.argv[2]), key_arg(sys.argv[3])
try:
    if role == "server":
        with Listener(address) as listener:
            say("READY", format_address(listener.address))
            conn = listener.accept()
            deliver_challenge(conn, key)
            answer_challenge(conn, key)
            exchange(conn, first=False)
    else:
        conn = Client(address)
        answer_challenge(conn, key)
        deliver_challenge(conn, key)
        exchange(conn, first=True)
except (AuthFail, EOFError, OSError) as e:
    say("AUTHFAIL", e)
    sys.exit(3)
conn.close()
say("OK")

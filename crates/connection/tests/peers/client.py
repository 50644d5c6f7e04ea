"""python3's real multiprocessing.connection.Client against a procshare Listener.

usage: client.py ADDRESS KEY   (ADDRESS: a Unix path or tcp:HOST:PORT; KEY: text or -)
Prints OK (exit 0), or AUTHFAIL (exit 3) when the handshake is refused.
"""
import sys
from multiprocessing.connection import Client, AuthenticationError

from common import parse_address, key_arg, say, exchange

try:
    conn = Client(parse_address(sys.argv[1]), authkey=key_arg(sys.argv[2]))
except (AuthenticationError, EOFError, OSError) as e:
    say("AUTHFAIL", e)
    sys.exit(3)
exchange(conn, first=True)
conn.close()
say("OK")

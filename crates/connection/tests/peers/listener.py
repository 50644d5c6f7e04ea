"""python3's real multiprocessing.connection.Listener for a procshare Client.

usage: listener.py ADDRESS KEY   (ADDRESS: a Unix path or tcp:HOST:0; KEY: text or -)
Prints READY <address> once listening; then OK (exit 0), or AUTHFAIL (exit 3) when the
client's handshake is refused.
"""
import sys
from multiprocessing.connection import Listener, AuthenticationError

from common import parse_address, format_address, key_arg, say, exchange

with Listener(parse_address(sys.argv[1]), authkey=key_arg(sys.argv[2])) as listener:
    say("READY", format_address(listener.address))
    try:
        conn = listener.accept()
    except (AuthenticationError, EOFError, OSError) as e:
        say("AUTHFAIL", e)
        sys.exit(3)
    exchange(conn, first=False)
    conn.close()
say("OK")

#!/usr/bin/env python3
"""An independent TLS peer for interop tests: Python's ssl module speaking
the length-prefix protocol (4-byte big-endian length, then the payload;
length 0 is a heartbeat) of docs/protocol.md.

  python_peer.py client PORT CA_PEM COUNT [SERVER_NAME]
      Connects to tls://127.0.0.1:PORT verifying against CA_PEM (and the
      name, default "localhost"), sends COUNT payloads, checks each echo.
      Prints "COUNT sent, E echoed, M mismatched"; exit 0 iff all echoed.
  python_peer.py server CERT_PEM KEY_PEM
      Listens on tls://127.0.0.1:0, prints "listening on PORT", echoes every
      payload of each connection back, answers heartbeats with nothing
      (it writes its own every second). Prints "sni NAME" for each
      ClientHello ("sni None" without SNI). Runs until killed.
"""
import socket
import ssl
import struct
import sys
import threading
import time


def read_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed")
        buf += chunk
    return buf


def read_frame(sock):
    """The next payload; heartbeats are skipped."""
    while True:
        (length,) = struct.unpack(">I", read_exactly(sock, 4))
        if length:
            return read_exactly(sock, length)


def run_client(port, ca, count, name):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=name)
    echoed = mismatched = 0
    for i in range(count):
        payload = (b"%08d:" % i) * (1 + i % 50)
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        if read_frame(sock) == payload:
            echoed += 1
        else:
            mismatched += 1
    sock.close()
    print(f"{count} sent, {echoed} echoed, {mismatched} mismatched", flush=True)
    return 0 if echoed == count and mismatched == 0 else 1


def serve_one(conn):
    lock = threading.Lock()
    alive = [True]

    def heartbeats():
        while alive[0]:
            time.sleep(1)
            try:
                with lock:
                    conn.sendall(b"\0\0\0\0")
            except OSError:
                return

    threading.Thread(target=heartbeats, daemon=True).start()
    try:
        while True:
            payload = read_frame(conn)
            with lock:
                conn.sendall(struct.pack(">I", len(payload)) + payload)
    except (EOFError, OSError, ssl.SSLError):
        pass
    finally:
        alive[0] = False
        conn.close()


def run_server(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, _ctx: print(f"sni {name}", flush=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    while True:
        raw, _ = listener.accept()
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            continue
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def main(argv):
    if len(argv) >= 5 and argv[1] == "client":
        name = argv[5] if len(argv) > 5 else "localhost"
        return run_client(int(argv[2]), argv[3], int(argv[4]), name)
    if len(argv) == 4 and argv[1] == "server":
        return run_server(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

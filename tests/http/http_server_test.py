#!/usr/bin/python3
"""netasync-http-server as a user would run it, with Python's http.client
(and websockets, for /ws) as independent clients: the routes answer, a
delayed hello arrives after a second without holding a thread (ten at once
take about a second, not ten), /numbers streams its lines about 100 ms
apart as they are written, /events sends server-sent events and a client
that leaves ends its stream (the program says so), POST /echo returns the
body, /ws echoes WebSocket messages and /chat is the chat room on the same
port, pipelined requests and HTTP/1.0 keep-alive are answered on one
connection, --static serves files after the routes,
HEAD of a stream is its head alone, 404 and 405 with Allow, and SIGTERM
ends the program with status 0. Every wait is bounded; the program is
stopped by PID whatever happens.

  http_server_test.py BIN_DIR
"""
import asyncio
import concurrent.futures
import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

DEADLINE = 20  # seconds for each wait


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def read_until(pipe, pattern, what):
    end = time.monotonic() + DEADLINE
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([pipe], [], [], 0.2)
        if r:
            chunk = os.read(pipe.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(pattern, buf, re.M)
            if m:
                return m
    fail(f"{what}: no {pattern!r}; got {buf!r}")


def request(port, path, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def expect(got, status, body=None):
    if got[0] != status or (body is not None and got[2] != body):
        fail(f"got {got[0]} {got[2]!r}, wanted {status} {body!r}")


def routes(port):
    expect(request(port, "/hello"), 200, "hello world!")
    expect(request(port, "/echo", "POST", b"some body"), 200, "some body")
    expect(request(port, "/page.txt"), 200, "a static page\n")  # --static
    expect(request(port, "/nope"), 404)
    status, headers, _ = request(port, "/hello", "POST")
    if status != 405 or headers.get("Allow") != "GET, HEAD":
        fail(f"POST /hello: {status} {headers}")
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: request(port, "/delayed_hello"),
                                range(10)))
    took = time.monotonic() - t0
    for a in answers:
        expect(a, 200, "hello world!")
    if not 0.9 <= took < 5:
        fail(f"ten delayed hellos took {took:.2f} s, not about one")
    print(f"ten delayed hellos at once: {took:.2f} s")


def raw_exchange(port, data, want_responses):
    """Writes `data` at once on one connection and reads until
    `want_responses` responses (by their status lines) and their bodies
    came, or the server closed; returns what came."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    try:
        s.sendall(data)
        got = b""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            heads = got.count(b"HTTP/1.1 ")
            if heads >= want_responses and got.endswith(b"hello world!"):
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got.decode(errors="replace")
    finally:
        s.close()


def keep_alive_and_pipelining(port):
    """Three requests written at once (pipelined) are answered in order
    on one connection; an HTTP/1.0 client asking for keep-alive is told so
    and served again on the same connection."""
    one = b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
    got = raw_exchange(port, one * 3, 3)
    if got.count("HTTP/1.1 200 OK") != 3 or got.count("hello world!") != 3:
        fail(f"three pipelined requests: {got!r}")
    ten = b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    got = raw_exchange(port, ten * 2, 2)
    if got.count("hello world!") != 2 \
            or got.lower().count("connection: keep-alive") != 2:
        fail(f"HTTP/1.0 keep-alive: {got!r}")
    print("3 pipelined requests answered in order; HTTP/1.0 keep-alive kept")


def with_curl(port):
    """curl as the client: a POST with `Expect: 100-continue` (curl sends it
    for large bodies and then waits up to a second for the server's word)
    comes back at once, and /numbers arrives as its lines."""
    curl = shutil.which("curl")
    if not curl:
        fail("no curl (scripts/bootstrap.sh installs it)")
    body = "x" * 4096
    t0 = time.monotonic()
    p = subprocess.run([curl, "-sS", "--max-time", str(DEADLINE), "-v",
                        "-H", "Expect: 100-continue", "--data-binary", body,
                        f"http://127.0.0.1:{port}/echo"],
                       capture_output=True, timeout=DEADLINE + 5)
    took = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0 or p.stdout.decode() != body:
        fail(f"curl POST /echo: exit {p.returncode}, {len(p.stdout)} bytes: {err}")
    if "100 Continue" not in err or took >= 0.9:
        fail(f"curl POST /echo took {took:.2f} s; 100 Continue seen: "
             f"{'100 Continue' in err}")
    p = subprocess.run([curl, "-sS", "--max-time", str(DEADLINE),
                        f"http://127.0.0.1:{port}/numbers?count=3"],
                       capture_output=True, timeout=DEADLINE + 5)
    if p.stdout != b"0\n1\n2\n":
        fail(f"curl /numbers?count=3: {p.stdout!r}")
    print(f"curl: a 4 KiB POST with Expect: 100-continue in {took:.2f} s")


def streams(port, proc):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    c.request("GET", "/numbers?count=5")
    r = c.getresponse()
    if r.status != 200 or r.getheader("Transfer-Encoding") != "chunked":
        fail(f"/numbers: {r.status} {r.getheaders()}")
    lines, times = [], []
    while True:
        line = r.readline()
        if not line:
            break
        lines.append(line.decode())
        times.append(time.monotonic())
    c.close()
    if lines != [f"{i}\n" for i in range(5)]:
        fail(f"/numbers lines: {lines}")
    gaps = [b - a for a, b in zip(times, times[1:])]
    if not all(0.05 <= g < 1 for g in gaps):
        fail(f"/numbers lines came {gaps} s apart, not about 0.1 s")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    c.request("GET", "/events")
    r = c.getresponse()
    if r.status != 200 or r.getheader("Content-Type") != "text/event-stream":
        fail(f"/events: {r.status} {r.getheaders()}")
    events = []
    while len(events) < 2:
        line = r.readline().decode()
        if line.startswith("data: "):
            events.append(int(line[6:]))
    now_ms = time.time() * 1000
    if not all(abs(e - now_ms) < 10000 for e in events):
        fail(f"/events: {events} is not the time in ms ({now_ms:.0f})")
    c.close()  # the client leaves: the next writes fail
    read_until(proc.stderr, rb"\[events\] stream ended: netasync::connection_lost",
               "stderr")
    # HEAD of a stream: its head alone, and the connection serves on.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    c.request("HEAD", "/events")
    r = c.getresponse()
    r.read()
    c.request("GET", "/hello")
    r2 = c.getresponse()
    if r.status != 200 or r2.status != 200 or r2.read() != b"hello world!":
        fail(f"HEAD /events then GET /hello: {r.status} {r2.status}")
    c.close()
    print(f"/numbers lines {min(gaps):.2f}-{max(gaps):.2f} s apart; "
          "2 events, then the client left")


async def websocket_echo(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(b"over the ws route")
        got = await asyncio.wait_for(ws.recv(), DEADLINE)
        if got != b"over the ws route":
            fail(f"/ws echoed {got!r}")
    # The other WebSocket route of the same port: the chat room.
    async with websockets.connect(f"ws://127.0.0.1:{port}/chat") as ws:
        await ws.send(b"join lobby py")
        got = await asyncio.wait_for(ws.recv(), DEADLINE)
        if got != b"* py joined lobby":
            fail(f"/chat answered {got!r}")


def main():
    bin_dir = sys.argv[1]
    with tempfile.TemporaryDirectory() as www:
        with open(os.path.join(www, "page.txt"), "w") as f:
            f.write("a static page\n")
        proc = subprocess.Popen(
            [os.path.join(bin_dir, "netasync-http-server"), "--listen",
             "http://127.0.0.1:0", "--static", www],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            m = read_until(proc.stdout,
                           rb"^listening on http://127\.0\.0\.1:(\d+)$",
                           "stdout")
            port = int(m.group(1))
            routes(port)
            keep_alive_and_pipelining(port)
            with_curl(port)
            streams(port, proc)
            asyncio.run(websocket_echo(port))
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=DEADLINE)
            if rc != 0:
                fail(f"exited {rc} on SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()

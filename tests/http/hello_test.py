#!/usr/bin/python3
"""netasync-http-hello as a user would run it, with Python's http.client as
the independent client: the routes answer (path parameters decoded), a
delayed hello arrives after a second without holding a thread (ten at once
take about a second, not ten), another method gets 405 with Allow, an
unknown path 404, a streamed body comes chunked at its producer's pace,
server-sent events arrive one by one and a client that leaves ends its
stream (the program says so), and SIGTERM ends the program with status 0.
Every wait is bounded; the program is stopped by PID whatever happens.

  hello_test.py BIN_DIR
"""
import concurrent.futures
import http.client
import os
import re
import select
import signal
import subprocess
import sys
import time

DEADLINE = 20  # seconds for each wait


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def listening_port(proc):
    end = time.monotonic() + DEADLINE
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"^listening on http://127\.0\.0\.1:(\d+)$", buf, re.M)
            if m:
                return int(m.group(1))
    fail(f"no 'listening on' line; got {buf!r}")


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def read_stderr_until(proc, pattern):
    end = time.monotonic() + DEADLINE
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stderr], [], [], 0.2)
        if r:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if re.search(pattern, buf):
                return
    fail(f"stderr: no {pattern!r}; got {buf!r}")


def streams(port, proc):
    t0 = time.monotonic()
    status, headers, body = get(port, "/numbers?count=5")
    took = time.monotonic() - t0
    if status != 200 or headers.get("Transfer-Encoding") != "chunked" \
            or body != "0\n1\n2\n3\n4\n":
        fail(f"/numbers: {status} {headers} {body!r}")
    if not 0.35 <= took < 5:
        fail(f"five numbers 100 ms apart took {took:.2f} s")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    c.request("GET", "/clock")
    r = c.getresponse()
    if r.status != 200 or r.getheader("Content-Type") != "text/event-stream":
        fail(f"/clock: {r.status} {r.getheaders()}")
    events = []
    while len(events) < 2:
        line = r.fp.readline().decode()  # raw: the chunk sizes too
        if line.startswith("data: "):
            events.append(line)
    c.close()  # the client leaves: the next writes fail
    read_stderr_until(proc, rb"\[clock\] stream ended: netasync::connection_lost")
    # HEAD of a stream: its head alone, and the connection serves on.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    c.request("HEAD", "/clock")
    r = c.getresponse()
    r.read()
    c.request("GET", "/hello")
    r2 = c.getresponse()
    if r.status != 200 or r2.status != 200 or r2.read() != b"hello world!\n":
        fail(f"HEAD /clock then GET /hello: {r.status} {r2.status}")
    c.close()
    print(f"streamed 5 numbers in {took:.2f} s; 2 events, then the client left")


def main():
    bin_dir = sys.argv[1]
    proc = subprocess.Popen(
        [os.path.join(bin_dir, "netasync-http-hello"), "--listen",
         "http://127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = listening_port(proc)
        checks = [
            (get(port, "/hello"), 200, "hello world!\n"),
            (get(port, "/hello/J%C3%BCrgen"), 200, "hello J\u00fcrgen!\n"),
            (get(port, "/nope"), 404, None),
        ]
        for (status, _, body), want_status, want_body in checks:
            if status != want_status or (want_body and body != want_body):
                fail(f"got {status} {body!r}, wanted {want_status} {want_body!r}")
        status, headers, _ = get(port, "/hello", "POST")
        if status != 405 or headers.get("Allow") != "GET, HEAD":
            fail(f"POST /hello: {status} {headers}")
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: get(port, "/delayed-hello"),
                                    range(10)))
        took = time.monotonic() - t0
        if any(a[0] != 200 or a[2] != "hello world!\n" for a in answers):
            fail(f"delayed hellos: {answers}")
        if not 0.9 <= took < 5:
            fail(f"ten delayed hellos took {took:.2f} s, not about one")
        print(f"ten delayed hellos at once: {took:.2f} s")
        streams(port, proc)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=DEADLINE)
        if rc != 0:
            fail(f"exited {rc} on SIGTERM: {proc.stderr.read()!r}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()

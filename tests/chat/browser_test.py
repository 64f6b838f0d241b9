#!/usr/bin/python3
"""A real browser as a peer: headless Chromium (Debian's chromium) opens the
chat page that netasync-chat-server serves, twice, and a terminal
netasync-chat-client joins the same room. Each says one thing; the test
asserts that every one of the three received all three messages. It also
opens netasync-http-server's /clock page and asserts that the clock its
EventSource shows (server-sent events from /events) ticks, and the chat
page from that same server (its /chat WebSocket route beside the HTTP
routes), which must relay what the page says back to it. Chromium is
driven through its DevTools protocol (over a WebSocket, with Debian's
python3-websockets). Every wait is bounded; processes are stopped by PID.

  browser_test.py BIN_DIR WWW_DIR [--screenshot PNG]
"""
import argparse
import asyncio
import base64
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import websockets

DEADLINE = 30  # seconds for each wait


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def wait_line(proc, pattern, what):
    """The first stdout line of `proc` that matches `pattern`."""
    end = time.monotonic() + DEADLINE
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                if re.search(pattern, line):
                    return line, buf
    fail(f"{what}: no line matching {pattern!r}; got {buf!r}")


class Browser:
    """Just enough of the DevTools protocol: open pages, evaluate, capture."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        while True:  # events come in between: skip them
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), DEADLINE))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail(f"{method}: {reply['error']}")
                return reply["result"]

    async def open(self, url):
        target = (await self.call("Target.createTarget", {"url": url}))["targetId"]
        return (await self.call("Target.attachToTarget",
                                {"targetId": target, "flatten": True}))["sessionId"]

    async def eval(self, session, expr):
        r = await self.call("Runtime.evaluate",
                            {"expression": expr, "returnByValue": True}, session)
        return r["result"].get("value")

    async def wait_for(self, session, expr, what):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if await self.eval(session, expr):
                return
            await asyncio.sleep(0.1)
        log = await self.eval(session, "document.getElementById('log').innerText")
        fail(f"{what}; the page shows: {log!r}")


async def clock_ticks(b, http_url):
    """The /clock page shows the server's time and it moves on."""
    page = await b.open(http_url + "/clock")
    shown = "document.getElementById('t').textContent"
    end = time.monotonic() + DEADLINE
    seen = []
    while time.monotonic() < end and len(seen) < 2:
        t = await b.eval(page, shown)
        if t and t != "…" and (not seen or t != seen[-1]):
            seen.append(t)
        await asyncio.sleep(0.1)
    if len(seen) < 2:
        fail(f"the SSE clock did not tick; the page showed {seen!r}")
    if not re.match(r"^\d{4}-\d\d-\d\dT", seen[0]):
        fail(f"the SSE clock shows {seen[0]!r}, not a time")
    print(f"the SSE clock ticked: {seen[0]} -> {seen[1]}", flush=True)


async def run(args, server_url, client, chromium_log, http_url):
    chrome_url = None
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and not chrome_url:
        with open(chromium_log) as f:
            m = re.search(r"DevTools listening on (ws://\S+)", f.read())
        if m:
            chrome_url = m.group(1)
        else:
            await asyncio.sleep(0.1)
    if not chrome_url:
        fail("chromium did not start: " + open(chromium_log).read()[-2000:])
    page_base = "http://" + server_url[len("ws://"):].split("/", 1)[0] + "/"
    async with websockets.connect(chrome_url, max_size=2 ** 26) as ws:
        b = Browser(ws)
        await clock_ticks(b, http_url)
        await chat_beside_http_routes(b, http_url)
        pages = {}
        for nick in ("b1", "b2"):
            pages[nick] = await b.open(f"{page_base}?room=lobby&nick={nick}")
            await b.wait_for(pages[nick],
                             f"document.getElementById('log').innerText.includes('* {nick} joined lobby')",
                             f"{nick} did not join")
        await b.eval(pages["b1"], "chatSend('hello from b1')")
        await b.eval(pages["b2"], "chatSend('hello from b2')")
        client.stdin.write(b"hello from cpp\n")
        client.stdin.flush()
        said = ["b1: hello from b1", "b2: hello from b2", "cpp: hello from cpp"]
        for nick, session in pages.items():
            cond = " && ".join(
                f"document.getElementById('log').innerText.includes({json.dumps(s)})"
                for s in said)
            await b.wait_for(session, cond, f"page {nick} missed a message")
            print(f"page {nick} received all three", flush=True)
        if args.screenshot:
            shot = await b.call("Page.captureScreenshot", {"format": "png"},
                                pages["b1"])
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
    _, got = wait_line(client, r"b2: hello from b2", "the terminal client")
    text = got.decode(errors="replace")
    for s in said:
        if s not in text:
            # b1's line may come after b2's: read on.
            _, more = wait_line(client, re.escape(s), "the terminal client")
            text += more.decode(errors="replace")
    print("terminal client received all three", flush=True)


async def chat_beside_http_routes(b, http_url):
    """netasync-http-server serves the chat page and its /chat route too."""
    page = await b.open(http_url + "/?room=side&nick=h1")
    await b.wait_for(page,
                     "document.getElementById('log').innerText.includes('* h1 joined side')",
                     "h1 did not join on the HTTP server")
    await b.eval(page, "chatSend('hello beside the routes')")
    await b.wait_for(page,
                     "document.getElementById('log').innerText.includes('h1: hello beside the routes')",
                     "the HTTP server's chat did not relay")
    print("the HTTP server's chat page relayed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bin")
    p.add_argument("www")
    p.add_argument("--screenshot")
    args = p.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        fail("no chromium (apt-get install chromium)")
    tmp = tempfile.mkdtemp()
    procs = []
    try:
        server = subprocess.Popen(
            [os.path.join(args.bin, "netasync-chat-server"), "--listen",
             "ws://127.0.0.1:0/chat", "--static", args.www],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(server)
        line, _ = wait_line(server, r"^listening on ", "the chat server")
        server_url = line.split("listening on ", 1)[1].strip()
        http = subprocess.Popen(
            [os.path.join(args.bin, "netasync-http-server"), "--listen",
             "http://127.0.0.1:0", "--static", args.www],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(http)
        line, _ = wait_line(http, r"^listening on ", "the HTTP server")
        http_url = line.split("listening on ", 1)[1].strip().rstrip("/")
        client = subprocess.Popen(
            [os.path.join(args.bin, "netasync-chat-client"), "--connect",
             server_url, "--nick", "cpp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        procs.append(client)
        wait_line(client, r"^\* cpp joined lobby$", "the terminal client")
        chromium_log = os.path.join(tmp, "chromium.log")
        with open(chromium_log, "w") as log:
            browser = subprocess.Popen(
                [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--no-first-run",
                 "--window-size=800,600", "--remote-debugging-port=0",
                 "--remote-allow-origins=*",
                 f"--user-data-dir={os.path.join(tmp, 'profile')}",
                 "about:blank"],
                stdout=log, stderr=log)
        procs.append(browser)
        asyncio.run(run(args, server_url, client, chromium_log, http_url))
        client.stdin.close()
        if client.wait(timeout=DEADLINE) != 0:
            fail(f"the terminal client exited {client.returncode}")
        print("1 passed, 0 failed", flush=True)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

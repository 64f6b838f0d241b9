#!/usr/bin/python3
"""An independent WebSocket peer (Debian's python3-websockets) for the
interop test: a client that checks our server's echoes, or an echo server
our client talks to.

  python_ws_peer.py client URL [--ca PEM]
      sends binary messages of several sizes (up to 1 MiB) and a text one,
      checks each echo byte for byte, closes with 1000; prints "ok".
  python_ws_peer.py pipeline URL [--ca PEM]
      sends 1,000 binary messages of 1 B to 64 KiB and 8 of 1 MiB (about
      40 MB) as fast as the connection takes them while reading the echoes
      concurrently; checks each in order; prints "ok N echoed, B bytes".
  python_ws_peer.py server [--cert PEM --key PEM] [--going-away-after N]
      echo server on 127.0.0.1, a free port; prints "listening port=P",
      runs until SIGTERM. With --going-away-after N, the first connection
      is closed with 1001 (going away) after N echoes.
"""
import argparse
import asyncio
import os
import random
import signal
import ssl
import sys

import websockets


async def client(url, ca):
    ctx = None
    if url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(url, ssl=ctx, max_size=2 ** 21) as ws:
        for size in (1, 7, 125, 126, 65535, 65536, 100000, 1 << 20):
            payload = os.urandom(size)
            await ws.send(payload)
            echo = await asyncio.wait_for(ws.recv(), 10)
            if echo != payload:
                sys.exit(f"echo of {size} bytes differs")
        await ws.send("text from python")
        echo = await asyncio.wait_for(ws.recv(), 10)
        if echo != b"text from python":
            sys.exit(f"text echo was {echo!r}")
        await ws.close(code=1000, reason="done")
    print("ok", flush=True)


async def pipeline(url, ca):
    ctx = None
    if url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=ca)
    rnd = random.Random(19)
    sizes = [rnd.randint(1, 65536) for _ in range(1000)] + [1 << 20] * 8
    msgs = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    async with websockets.connect(url, ssl=ctx, max_size=2 ** 21) as ws:
        async def send_all():
            for m in msgs:
                await ws.send(m)

        sender = asyncio.ensure_future(send_all())
        for i, m in enumerate(msgs):
            echo = await asyncio.wait_for(ws.recv(), 20)
            if echo != m:
                sys.exit(f"echo #{i} differs: {len(echo)} bytes, "
                         f"expected {len(m)}")
        await sender
        await ws.close(code=1000, reason="done")
    print(f"ok {len(msgs)} echoed, {sum(sizes)} bytes", flush=True)


async def server(cert, key, going_away_after):
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    connections = 0

    async def echo(ws, path=None):
        nonlocal connections
        connections += 1
        first = connections == 1
        n = 0
        try:
            async for msg in ws:
                await ws.send(msg)
                n += 1
                if first and going_away_after and n == going_away_after:
                    await ws.close(code=1001, reason="server restarting")
                    return
        except websockets.ConnectionClosed:
            pass

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                  stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx,
                                max_size=2 ** 21) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"listening port={port}", flush=True)
        await stop


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["client", "pipeline", "server"])
    p.add_argument("url", nargs="?")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--going-away-after", type=int, default=0)
    a = p.parse_args()
    if a.mode == "client":
        asyncio.run(asyncio.wait_for(client(a.url, a.ca), 60))
    elif a.mode == "pipeline":
        asyncio.run(asyncio.wait_for(pipeline(a.url, a.ca), 120))
    else:
        asyncio.run(server(a.cert, a.key, a.going_away_after))


if __name__ == "__main__":
    main()

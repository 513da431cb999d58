#!/usr/bin/env python3
"""Opens N connections through a proxy and leaves them idle, for bench/load.py's memory figure.

  sink:      the server the tunnels reach (its own process: N tunnels are 2N descriptors).
  tunnel:    CONNECT sink:PORT, one round trip of plain bytes through the blind tunnel (so both
             directions have carried data), then idle.
  intercept: CONNECT login host, TLS handshake with the interception CA, one keep-alive GET
             answered 200, then idle.

Prints "ready N" once every connection is established and idle, then waits until stdin closes.
asyncio, one process, bounded concurrency while opening, so the client side stays cheap.
Loopback only."""

import argparse
import asyncio
import resource
import ssl
import sys


async def sink_server(port):
    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                writer.write(b"pong\n")
        except ConnectionError:
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)


async def connect(proxy_port, authority):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
        raise RuntimeError("CONNECT refused: " + head.decode(errors="replace"))
    return reader, writer


async def get(reader, writer, host, path):
    """One keep-alive GET (no Connection field) answered 200; reads the whole body and returns
    its length."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("request failed: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return length


async def open_tunnel(args, held):
    reader, writer = await connect(args.proxy_port, f"{args.host}:{args.connect_port}")
    writer.write(b"ping\n")  # not TLS: the proxy tunnels it at once
    if await reader.readline() != b"pong\n":
        raise RuntimeError("no answer through the tunnel")
    held.append(writer)


async def open_intercepted(args, held, tls):
    reader, writer = await connect(args.proxy_port, f"{args.host}:443")
    await writer.start_tls(tls, server_hostname=args.host)
    await get(reader, writer, args.host, "/idle")
    held.append(writer)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["sink", "tunnel", "intercept"])
    parser.add_argument("--proxy-port", type=int)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--host")
    parser.add_argument("--sink-port", type=int, default=0, help="sink: the port to serve")
    parser.add_argument("--connect-port", type=int, default=443, help="tunnel: the port to CONNECT to")
    parser.add_argument("--cafile")
    parser.add_argument("--parallel", type=int, default=100)
    args = parser.parse_args()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    if args.mode == "sink":
        sink = await sink_server(args.sink_port)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        sink.close()
        return
    tls = ssl.create_default_context(cafile=args.cafile) if args.mode == "intercept" else None
    held = []
    gate = asyncio.Semaphore(args.parallel)

    async def one():
        async with gate:
            if args.mode == "tunnel":
                await open_tunnel(args, held)
            else:
                await open_intercepted(args, held, tls)

    results = await asyncio.gather(*(one() for _ in range(args.count)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        print(f"failed {len(failures)}: {failures[0]!r}", flush=True)
    print(f"ready {len(held)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in held:
        writer.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())

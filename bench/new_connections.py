#!/usr/bin/env python3
"""New client connections the way a browser makes them, for bench/load.py: each connection
CONNECTs through the proxy (or, with --direct, connects straight to the server), completes a
full TLS handshake (no session reuse), sends one GET without a Connection field (HTTP/1.1
keep-alive, what browsers send), reads the whole response and closes.

hey -disable-keepalive sends `Connection: close` on every request, which trproxy forwards byte
for byte (DESIGN), so the upstream closes after answering and every such client connection
costs a new upstream connection; a browser's new connection does not.

Prints "done OK FAILED SIZE" (SIZE: the body length of the last response). asyncio, one
process, `--concurrency` connections at a time. Loopback only; no certificate checks (like hey)."""

import argparse
import asyncio
import ssl
import sys

from idle_clients import connect, get


async def one(args, tls, sizes):
    if args.direct:
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    else:
        reader, writer = await connect(args.port, f"{args.host}:443")
    await writer.start_tls(tls, server_hostname=args.host)
    sizes.append(await get(reader, writer, args.host, "/common/oauth2/v2.0/authorize"))
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--direct", action="store_true", help="connect to the server itself, no CONNECT")
    parser.add_argument("--host", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    sizes, failed = [], 0
    left = iter(range(args.count))

    async def worker():
        nonlocal failed
        for _ in left:
            try:
                await one(args, tls, sizes)
            except (OSError, RuntimeError, asyncio.IncompleteReadError, ssl.SSLError):
                failed += 1

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    print(f"done {len(sizes)} {failed} {sizes[-1] if sizes else 0}", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

#!/usr/bin/env python3
"""Regenerates the large ClientHellos of the unit tests from Chromium's real (post-quantum) hello.

A padding extension (type 21, RFC 7685) is appended to client_hello_chromium.bin's extensions,
every length is fixed, and the handshake message is cut into TLS records of at most 16 KiB:

  client_hello_padded_40k.bin  a 40 KiB handshake message over 3 records (16384 + 16384 + rest)
  client_hello_64k.bin         exactly 64 KiB (65536 bytes with its 4-byte header): the largest
                               the proxy reads, over 4 records
  client_hello_over_64k.bin    one byte more than that, over 5 records: the proxy must refuse it

    python3 tests/data/make_large_hellos.py   (writes next to this script)
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD = 16384
PADDING = 21


def handshake_of(wire):
    """The handshake message of a single-record hello, and the record header's version bytes."""
    assert wire[0] == 22 and struct.unpack(">H", wire[3:5])[0] == len(wire) - 5, "one whole record"
    return wire[5:], wire[1:3]


def padded(message, total):
    """`message` (a ClientHello handshake message) grown to `total` bytes with a padding extension."""
    body = message[4:]
    p = 2 + 32
    p += 1 + body[p]
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 1 + body[p]
    extensions_at = p
    extensions = body[p + 2:]
    assert len(extensions) == struct.unpack(">H", body[p:p + 2])[0]
    pad = total - len(message) - 4  # the new extension's own 4-byte header
    assert pad >= 0
    extensions += struct.pack(">HH", PADDING, pad) + b"\0" * pad
    assert len(extensions) <= 0xFFFF, "an extension block is at most 64 KiB - 1"
    body = body[:extensions_at] + struct.pack(">H", len(extensions)) + extensions
    out = bytes([1]) + len(body).to_bytes(3, "big") + body
    assert len(out) == total
    return out


def records(message, version, size=RECORD):
    out = b""
    for i in range(0, len(message), size):
        fragment = message[i:i + size]
        out += bytes([22]) + version + struct.pack(">H", len(fragment)) + fragment
    return out


def main():
    with open(os.path.join(HERE, "client_hello_chromium.bin"), "rb") as f:
        message, version = handshake_of(f.read())
    for name, total in (("client_hello_padded_40k.bin", 40 * 1024), ("client_hello_64k.bin", 64 * 1024),
                        ("client_hello_over_64k.bin", 64 * 1024 + 1)):
        wire = records(padded(message, total), version)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(wire)
        print(f"{name}: handshake message {total} bytes, {len(wire)} bytes on the wire, "
              f"{-(-total // RECORD)} records")


if __name__ == "__main__":
    main()

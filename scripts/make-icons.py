#!/usr/bin/env python3
"""Draws the web app's PNG icons (the same design as web/icons/icon.svg)
with the standard library only, so no image tool is needed. Run once; the
PNGs are committed."""
import math, struct, sys, zlib
from pathlib import Path

def draw(size):
    s = size / 512.0
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # 2x2 supersampling for smooth edges.
            acc = [0, 0, 0, 0]
            for sy in (0.25, 0.75):
                for sx in (0.25, 0.75):
                    px, py = (x + sx) / s, (y + sy) / s
                    c = pixel(px, py)
                    for i in range(4):
                        acc[i] += c[i]
            row += bytes(int(v / 4) for v in acc)
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

def pixel(x, y):
    # Maskable icons need the whole square filled; the rounded corners are
    # applied by the launcher.
    bg = (0x1f, 0x3a, 0x5f, 255)
    d = math.hypot(x - 226, y - 226)
    if d <= 44:
        return (0xc6, 0x28, 0x28, 255)
    if abs(d - 118) <= 20:
        return (255, 255, 255, 255)
    # handle: segment from (312,312) to (420,420), width 52, round caps
    t = max(0.0, min(1.0, ((x - 312) + (y - 312)) / (2 * 108.0)))
    hx, hy = 312 + 108 * t, 312 + 108 * t
    if math.hypot(x - hx, y - hy) <= 26:
        return (255, 255, 255, 255)
    return bg

out = Path(sys.argv[1] if len(sys.argv) > 1 else "web/icons")
for size in (192, 512):
    (out / f"icon-{size}.png").write_bytes(draw(size))

#!/usr/bin/env python3
"""Writes the seed corpus of frame_decoder_fuzzer into tests/fuzz/seeds/.

Each seed is  config(1) | split parameter(2, big-endian) | stream, where
config = max-size index (bits 0-2) | split mode << 3 (bits 3-5); see the top
of frame_decoder_fuzzer.cpp. Run it again after changing the layout; it
replaces the whole directory. Python 3 standard library only.
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds")

# Index into kMaxSizes of the fuzzer.
MAX_SIZES = {0: 0x10, 1: 0x100, 2: 0x10000, 3: 0x4000000,
             4: 1, 5: 0x7fffffff, 6: 0xffffffff, 7: 0}
M16, M256, M64K, M64M, M1, MWIRE, MALL, M0 = range(8)

# Split modes.
BYTEWISE, FIXED, RANDOM, ONE_SPLIT, TWO_SPLITS, THREE_FIVE, TINY_EMPTY, GROWING = range(8)


def hdr(n):
    return struct.pack(">I", n)


def frame(payload):
    return hdr(len(payload)) + payload


def body(n):
    return bytes((i * 7 + 3) & 0xff for i in range(n))


HB = hdr(0)
HELLO = frame(b"hello")
SEVERAL = frame(b"hello") + HB + frame(b"world") + frame(b"a") + HB + frame(body(16))

seeds = {}


def seed(name, max_idx, mode, param, stream):
    assert name not in seeds, name
    seeds[name] = bytes([max_idx | (mode << 3)]) + struct.pack(">H", param) + stream


# Length edge cases for each max frame size, whole and byte by byte.
for idx, tag in ((M16, "max16"), (M256, "max256"), (M64K, "max64k"), (M64M, "max64m")):
    mx = MAX_SIZES[idx]
    # A full max-size body only where it stays small; otherwise the header and
    # a partial body (the decoder must not allocate the announced size).
    max_body = body(mx) if mx <= 0x100 else body(32)
    cases = {
        "len0": HB,
        "len1": frame(b"x"),
        "lenmax": hdr(mx) + max_body,
        "lenmax1": hdr(mx + 1) + b"z",
        "7fffffff": hdr(0x7fffffff) + b"q",
        "ffffffff": hdr(0xffffffff),
        "80000000": hdr(0x80000000) + HELLO,
    }
    for case, stream in cases.items():
        seed(f"{tag}_{case}_whole", idx, ONE_SPLIT, 0xffff, stream)
        seed(f"{tag}_{case}_bytewise", idx, BYTEWISE, 0, stream)

seed("hello_whole", M256, FIXED, 0xff, HELLO)
seed("hello_bytewise", M16, BYTEWISE, 0, HELLO)
seed("heartbeats_only", M16, RANDOM, 7, HB * 5)
seed("heartbeats_partial", M16, TINY_EMPTY, 0x1b1b, HB * 3 + b"\x00\x00")
seed("several_truncated_tail", M256, RANDOM, 0x1234, SEVERAL + hdr(9) + b"par")
seed("several_then_invalid", M256, RANDOM, 0x4321, SEVERAL + hdr(0x80000001) + HELLO)
seed("several_then_too_large", M16, GROWING, 3, SEVERAL + hdr(17) + body(17))

# Each split mode over several frames.
for mode in range(8):
    seed(f"several_mode{mode}", M256, mode, 0x0305 + mode, SEVERAL)

# Edge max frame sizes.
seed("max1_several", M1, RANDOM, 99, frame(b"a") + HB + frame(b"b") + frame(b"cc"))
seed("maxwire_7fffffff", MWIRE, THREE_FIVE, 1, HELLO + hdr(0x7fffffff) + b"abc")
seed("maxwire_80000000", MWIRE, THREE_FIVE, 2, HELLO + hdr(0x80000000))
seed("maxall_ffffffff", MALL, BYTEWISE, 0, HELLO + hdr(0xffffffff) + b"abc")
seed("maxall_7fffffff", MALL, ONE_SPLIT, 6, hdr(0x7fffffff) + b"abc")
seed("max0_heartbeats_then_frame", M0, ONE_SPLIT, 9, HB + HB + HELLO)

# Frames split at every point: one split at p, and split choice varied.
stream = HELLO + HB + frame(b"world")
for p in range(len(stream) + 1):
    seed(f"split1_at{p:02d}", M256, ONE_SPLIT, p, stream)
bad = HELLO + hdr(0x7fffffff) + frame(b"never")
for p in range(len(bad) + 1):
    seed(f"split1_bad_at{p:02d}", M16, ONE_SPLIT, p, bad)
for a in range(0, len(stream) + 1, 3):
    for b in range(a, len(stream) + 1, 4):
        seed(f"split2_at{a:02d}_{b:02d}", M256, TWO_SPLITS, (a << 8) | b, stream)
for p in range(8):
    seed(f"threefive_off{p}", M16, THREE_FIVE, p, stream + HB)
for p in range(1, 17):
    seed(f"fixed{p:02d}", M256, FIXED, p - 1, SEVERAL)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"make_seeds: {len(seeds)} seeds, {total} bytes in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()

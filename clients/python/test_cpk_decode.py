#!/usr/bin/env python3
"""Checks cpk_decode.py on a corpus written by the Java encoder: FOLDER holds NAME.cpk and NAME.onnx (the Java decoder's
output). Every .cpk must decode to exactly the same bytes as the Java decoder, and every truncation, every flipped byte
of a sample and random changes must be refused with CpkError and nothing else. NAME-zstd.cpk files (entropy=zstd) need
the zstandard module; without it they must be refused with a CpkError saying `pip install zstandard`.

    python3 test_cpk_decode.py FOLDER        # exit 0 when every check passed
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpk_decode  # noqa: E402


try:
    import zstandard  # noqa: F401
    HAVE_ZSTANDARD = True
except ImportError:
    HAVE_ZSTANDARD = False


def refused(data):
    try:
        cpk_decode.decode(data)
        return False
    except cpk_decode.CpkError:
        return True


def main(folder):
    names = sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".cpk"))
    if not names:
        print("no .cpk files in %s" % folder)
        return 1
    failures = 0
    rng = random.Random(3)
    for name in names:
        with open(os.path.join(folder, name + ".cpk"), "rb") as f:
            packed = f.read()
        with open(os.path.join(folder, name + ".onnx"), "rb") as f:
            expected = f.read()
        if name.endswith("-zstd") and not HAVE_ZSTANDARD:
            try:
                cpk_decode.decode(packed)
                print("FAIL %s: a zstd file decoded without the zstandard module" % name)
                failures += 1
            except cpk_decode.CpkError as e:
                if "pip install zstandard" not in str(e):
                    print("FAIL %s: refused without saying what to install: %s" % (name, e))
                    failures += 1
                else:
                    print("ok %s: refused without the zstandard module, naming it (%s)" % (name, e))
            continue
        if cpk_decode.decode(packed) != expected:
            print("FAIL %s: decoded bytes differ from the Java decoder's" % name)
            failures += 1
            continue
        step = max(1, len(packed) // 300)
        for length in list(range(0, min(len(packed), 400))) + list(range(400, len(packed), step)):
            if not refused(packed[:length]):
                print("FAIL %s: truncated to %d bytes was accepted" % (name, length))
                failures += 1
        for _ in range(200):
            damaged = bytearray(packed)
            at = rng.randrange(len(damaged))
            damaged[at] ^= 1 << rng.randrange(8)
            if not refused(bytes(damaged)):
                print("FAIL %s: a flipped bit at byte %d was accepted" % (name, at))
                failures += 1
        print("ok %s: %d bytes -> %d ONNX bytes, identical to Java; truncations and bit flips refused" % (name, len(packed), len(expected)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

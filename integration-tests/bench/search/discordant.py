"""The paired comparison behind the search's acceptance bound, on the validation split and on the test images.

For each split: the samples the original classifies right and the candidate wrong (lost), the reverse (gained), the drop
(lost - gained) / n, its standard error with half a sample added to each cell (as the search's DropBound computes it) and
the one-sided upper bounds drop + z * se at 95% (z 1.645) and 99% (z 2.326, the search's default confidence). Data from fashion_npy.py ($FASHION_NPY, default /tmp/fashion-npy).

usage: python discordant.py ORIGINAL.onnx CANDIDATE.onnx
"""
import math
import os
import sys

import numpy as np
import onnxruntime as ort

Z95 = 1.6448536269514722
Z99 = 2.3263478740408408


def predictions(path, images):
    session = ort.InferenceSession(path)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images[i:i + 1000]})[0].argmax(1) for i in range(0, len(images), 1000)])


def main():
    original, candidate = sys.argv[1], sys.argv[2]
    data = os.environ.get("FASHION_NPY", "/tmp/fashion-npy")
    for split in ("val", "test"):
        images = np.load(os.path.join(data, split + ".npy"))
        labels = np.load(os.path.join(data, split + "_labels.npy"))
        before = predictions(original, images) == labels
        after = predictions(candidate, images) == labels
        lost, gained, n = int((before & ~after).sum()), int((~before & after).sum()), len(labels)
        b, c, m = lost + 0.5, gained + 0.5, n + 2
        se = math.sqrt(b + c - (b - c) ** 2 / m) / m
        drop = (lost - gained) / n
        print(f"{split}\t{n} samples\taccuracy {before.mean():.4f} -> {after.mean():.4f}\tlost {lost}\tgained {gained}\t"
              f"drop {100 * drop:+.2f} points\tse {100 * se:.2f}\tbound {100 * (drop + Z95 * se):+.2f} (95%), "
              f"{100 * (drop + Z99 * se):+.2f} (99%)")


if __name__ == "__main__":
    main()

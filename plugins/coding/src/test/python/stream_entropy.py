#!/usr/bin/env python3
"""What coding alone could still give on a k-means model (README "Deep Compression on Fashion-MNIST"): for each 2-D
k-means indices initializer, the order-0 entropy (in bytes, no table costs) of its sparse streams as encode writes them
(row-major gaps between elements other than the most frequent index, and those elements' indices), and the same
conditioned on simple contexts a coder could use: the previous index, the row, the column (in 14 buckets).

    python3 stream_entropy.py MODEL.onnx        # needs numpy and onnx (e.g. /work/venv-ort/bin/python)
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def entropy_bytes(symbols):
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return -(p * np.log2(p)).sum() * len(symbols) / 8


def conditional_bytes(symbols, context):
    return sum(entropy_bytes(symbols[context == c]) for c in np.unique(context))


def main(path):
    model = onnx.load(path)
    for tensor in model.graph.initializer:
        if not tensor.name.endswith("_indices"):
            continue
        indices = numpy_helper.to_array(tensor)
        if indices.ndim != 2:
            continue
        values, counts = np.unique(indices, return_counts=True)
        background = values[counts.argmax()]
        flat = indices.ravel()
        positions = np.nonzero(flat != background)[0]
        symbols = flat[positions].astype(np.int64)
        gaps = np.diff(np.concatenate([[-1], positions])) - 1
        rows, columns = positions // indices.shape[1], positions % indices.shape[1]
        previous = np.concatenate([[background], symbols[:-1]])
        column_bucket = columns * 14 // indices.shape[1]
        print("%s: %d entries; indices H %.0f, given the previous %.0f, given the row %.0f; gaps H %.0f, given the column %.0f bytes"
              % (tensor.name, len(positions), entropy_bytes(symbols), conditional_bytes(symbols, previous),
                 conditional_bytes(symbols, rows), entropy_bytes(gaps), conditional_bytes(gaps, column_bucket)))


if __name__ == "__main__":
    main(sys.argv[1])

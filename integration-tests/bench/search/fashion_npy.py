"""Writes Fashion-MNIST (Debian's dataset-fashion-mnist) as .npy files for the search benchmarks.

val: the last 5,000 training images (what the search evaluates candidates on), calib: the first 512 training images,
train: the first 55,000 training images (disjoint from val), test: the 10,000 test images (only for the final figure).
Pixels scaled to [0, 1], shape [N, 1, 28, 28] float32; labels int64.

usage: python fashion_npy.py OUT_DIR [FASHION_DIR]
"""
import gzip
import os
import sys

import numpy as np


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    out = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    os.makedirs(out, exist_ok=True)
    train_x = idx(os.path.join(source, "train-images-idx3-ubyte.gz"))
    train_y = idx(os.path.join(source, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    test_x = idx(os.path.join(source, "t10k-images-idx3-ubyte.gz"))
    test_y = idx(os.path.join(source, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)

    def images(x):
        return (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)

    np.save(os.path.join(out, "val.npy"), images(train_x[55000:]))
    np.save(os.path.join(out, "val_labels.npy"), train_y[55000:])
    np.save(os.path.join(out, "calib.npy"), images(train_x[:512]))
    np.save(os.path.join(out, "train.npy"), images(train_x[:55000]))
    np.save(os.path.join(out, "train_labels.npy"), train_y[:55000])
    np.save(os.path.join(out, "test.npy"), images(test_x))
    np.save(os.path.join(out, "test_labels.npy"), test_y)


if __name__ == "__main__":
    main()

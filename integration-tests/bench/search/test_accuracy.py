"""Accuracy of ONNX models on a labelled .npy test set, in ONNX Runtime, batch by batch.

usage: python test_accuracy.py TEST.npy TEST_LABELS.npy MODEL.onnx [MODEL.onnx ...]
prints one line per model: path, bytes, accuracy; and for every model after the first its drop and size ratio against the first.
"""
import os
import sys

import numpy as np
import onnxruntime as ort


def accuracy(path, x, y):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    batch = feed.shape[0] if isinstance(feed.shape[0], int) else 500
    correct = 0
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        if len(chunk) < batch and isinstance(feed.shape[0], int):
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk),) + chunk.shape[1:], chunk.dtype)])
        shape = [len(chunk)] + [d if isinstance(d, int) else -1 for d in feed.shape[1:]]
        out = session.run(None, {feed.name: chunk.reshape(shape)})[0]
        n = min(batch, len(x) - start)
        correct += int((out.reshape(len(chunk), -1)[:n].argmax(axis=1) == y[start:start + n]).sum())
    return correct / len(x)


def main():
    x = np.load(sys.argv[1])
    y = np.load(sys.argv[2])
    first = None
    for path in sys.argv[3:]:
        acc = accuracy(path, x, y)
        size = os.path.getsize(path)
        line = f"{path}\t{size} bytes\taccuracy {acc:.4f}"
        if first is None:
            first = (acc, size)
        else:
            line += f"\tdrop {first[0] - acc:+.4f} points x100 = {100 * (first[0] - acc):+.2f}\t{first[1] / size:.2f}x smaller"
        print(line)


if __name__ == "__main__":
    main()

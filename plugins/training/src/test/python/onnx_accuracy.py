"""Accuracy of a Fashion-MNIST classifier in ONNX Runtime on the training or the test images (Debian's dataset-fashion-mnist).
Usage: /work/venv-ort/bin/python onnx_accuracy.py MODEL.onnx [train|t10k] [fashion=/usr/share/datasets/fashion-mnist]"""
import gzip, sys
import numpy as np, onnxruntime as ort

model = sys.argv[1]
split = sys.argv[2] if len(sys.argv) > 2 and '=' not in sys.argv[2] else 't10k'
folder = dict(a.split('=') for a in sys.argv[2:] if '=' in a).get('fashion', '/usr/share/datasets/fashion-mnist')
with gzip.open(f"{folder}/{split}-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
with gzip.open(f"{folder}/{split}-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, options)
name = session.get_inputs()[0].name
correct = sum(int((session.run(None, {name: x[i:i + 1000]})[0].argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
print(f"{model} {split}: {correct / len(x):.4f} ({correct} of {len(x)})")

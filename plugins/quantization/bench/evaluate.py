"""Accuracy and output SQNR of quantized models against their float model, on held-out inputs, in ONNX Runtime.

python3 evaluate.py FLOAT.onnx EVAL.npy [LABELS.npy] QUANTIZED.onnx...
Prints, per quantized model: top-1 accuracy (with labels) and agreement with float, and the SQNR of all outputs together
(sum of float^2 over sum of (float - quantized)^2, in dB).
"""
import sys

import numpy as np
import onnxruntime as ort


def run(path, data):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = session.get_inputs()[0].shape[0]
    step = 256 if not isinstance(batch, int) else 1
    outputs = []
    for start in range(0, len(data), step):
        outputs.append(session.run(None, {name: np.ascontiguousarray(data[start:start + step], dtype=np.float32)}))
    return [np.concatenate([o[i] for o in outputs]) for i in range(len(outputs[0]))]


def main():
    float_path, data_path = sys.argv[1:3]
    rest = sys.argv[3:]
    labels = None
    if rest and rest[0].endswith(".npy"):
        labels = np.load(rest[0])
        rest = rest[1:]
    data = np.load(data_path, mmap_mode="r")
    reference = run(float_path, data)
    if labels is not None:
        print("%-40s accuracy %.4f" % ("float", float(np.mean(reference[0].argmax(-1) == labels))))
    for path in rest:
        outputs = run(path, data)
        signal = sum(float(np.sum(r.astype(np.float64) ** 2)) for r in reference)
        noise = sum(float(np.sum((r.astype(np.float64) - o) ** 2)) for r, o in zip(reference, outputs))
        line = "%-40s output SQNR %.2f dB, agreement %.4f" % (path, 10 * np.log10(signal / noise),
                                                               float(np.mean(reference[0].argmax(-1) == outputs[0].argmax(-1))))
        if labels is not None:
            line += ", accuracy %.4f" % float(np.mean(outputs[0].argmax(-1) == labels))
        print(line)


if __name__ == "__main__":
    main()

"""What ONNX Runtime's own quantizers reach on a Fashion-MNIST classifier, for the README's side-by-side with --auto.

Runs quantize_dynamic (int8 weights) and quantize_static (QDQ int8 weights and activations, calibrated on calib.npy);
each result's size and its accuracy on the 10,000 test images in ONNX Runtime. (ONNX Runtime's 4-bit quantizer,
MatMulNBits, only takes MatMul weights; LeNet's layers are Conv and Gemm.) The accuracy-aware loop of NNCF (quantize_with_accuracy_control) is not run: nncf is
not in this environment (see the README).

usage: python ort_quantizers.py MODEL.onnx DATA_DIR OUT_DIR
"""
import os
import sys

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, os.path.dirname(__file__))
from test_accuracy import accuracy  # noqa: E402


class Calibration(CalibrationDataReader):
    def __init__(self, name, x):
        self.items = iter([{name: x[i:i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.items, None)


def main():
    model, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    x = np.load(os.path.join(data, "test.npy"))
    y = np.load(os.path.join(data, "test_labels.npy"))
    calib = np.load(os.path.join(data, "calib.npy"))
    import onnx
    name = onnx.load(model).graph.input[0].name
    prepared = os.path.join(out, "prepared.onnx")
    quant_pre_process(model, prepared, skip_symbolic_shape=True)
    results = [("float", model)]
    dynamic = os.path.join(out, "ort-dynamic-int8.onnx")
    quantize_dynamic(prepared, dynamic, weight_type=QuantType.QInt8)
    results.append(("quantize_dynamic int8", dynamic))
    static = os.path.join(out, "ort-static-qdq-int8.onnx")
    quantize_static(prepared, static, Calibration(name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    results.append(("quantize_static QDQ int8 per channel", static))
    base = None
    for label, path in results:
        acc = accuracy(path, x, y)
        size = os.path.getsize(path)
        if base is None:
            base = (acc, size)
        print(f"{label}\t{size} bytes\t{base[1] / size:.2f}x smaller\ttest accuracy {acc:.4f}\tdrop {100 * (base[0] - acc):+.2f} points")


if __name__ == "__main__":
    main()

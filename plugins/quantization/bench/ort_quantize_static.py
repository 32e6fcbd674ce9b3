"""ONNX Runtime's quantize_static on the same model, data and method as Condense's quantize(activations=true):
QDQ, per-channel int8 weights, uint8 activations, reduce_range (Condense's weights use levels -63..63 with activations),
one calibration sample per call of the data reader (memory-mapped .npy). A model below opset 13 is upgraded to 13 first
(onnx.version_converter), outside the timed quantize_static call.

python3 ort_quantize_static.py MODEL.onnx CALIB.npy METHOD OUT.onnx [SAMPLES] [PERCENTILE]
METHOD: minmax | entropy | percentile. Prints the quantize_static time in seconds (the step time).
"""
import sys
import time

import numpy as np
import onnx
import onnx.version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static


class Reader(CalibrationDataReader):
    def __init__(self, name, data, count):
        self.name = name
        self.data = data
        self.count = count
        self.index = 0

    def get_next(self):
        if self.index >= self.count:
            return None
        sample = np.ascontiguousarray(self.data[self.index:self.index + 1], dtype=np.float32)
        self.index += 1
        return {self.name: sample}

    def rewind(self):
        self.index = 0


def main():
    model_path, data_path, method, out = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    percentile = float(sys.argv[6]) if len(sys.argv) > 6 else 99.99
    data = np.load(data_path, mmap_mode="r")
    count = min(count, data.shape[0])
    model = onnx.load(model_path)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        # per-channel DequantizeLinear (its axis) needs opset 13; quantize_static keeps the model's opset and writes an
        # invalid model otherwise, so upgrade first, as Condense does inside its step (counted in the whole command only)
        model = onnx.version_converter.convert_version(model, 13)
        model_path = out + ".opset13.onnx"
        onnx.save(model, model_path)
    initializers = {i.name for i in model.graph.initializer}
    name = [i.name for i in model.graph.input if i.name not in initializers][0]
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    extra = {"CalibPercentile": percentile} if method == "percentile" else {}
    start = time.perf_counter()
    quantize_static(model_path, out, Reader(name, data, count), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=methods[method], extra_options=extra)
    print("quantize_static seconds %.3f" % (time.perf_counter() - start))


if __name__ == "__main__":
    main()

"""ONNX Runtime's own int8 weight quantizer on the model corpus, for CorpusIT's side-by-side count.

    python ort_quantize_dynamic.py OUT_DIR MODEL.onnx [MODEL.onnx ...]

For each model: onnxruntime.quantization.quantize_dynamic(weight_type=QInt8) (after its quant_pre_process when that
works), then the result loaded and run in ONNX Runtime on one input of the model's shapes (free dimensions as 1,
float inputs standard normal with seed 0). Prints one JSON object per line: model, handled (quantized at least one
weight and runs), quantized_nodes (integer or QDQ nodes in the result), and the error when it failed.
Needs onnxruntime and onnx (pip); not Debian's python3.
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

INTEGER_OPS = {"MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLSTM",
               "DequantizeLinear", "QAttention", "DynamicQuantizeMatMul"}

TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
         "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def feeds(session):
    rng = np.random.default_rng(0)
    result = {}
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in value.shape]
        dtype = TYPES.get(value.type, np.float32)
        if np.issubdtype(dtype, np.floating):
            result[value.name] = rng.standard_normal(shape).astype(dtype)
        else:
            result[value.name] = np.zeros(shape, dtype)
    return result


def count_integer_nodes(path):
    model = onnx.load(path)
    return sum(1 for node in model.graph.node if node.op_type in INTEGER_OPS)


def one(model_path, out_dir):
    name = os.path.basename(model_path)
    before = count_integer_nodes(model_path)
    target = os.path.join(out_dir, name.replace(".onnx", ".ort-int8.onnx"))
    try:
        quantize_dynamic(model_path, target, weight_type=QuantType.QInt8)
        quantized = count_integer_nodes(target) - before
        session = ort.InferenceSession(target, providers=["CPUExecutionProvider"])
        session.run(None, feeds(session))
        if quantized <= 0:
            return {"model": name, "handled": False, "quantized_nodes": 0, "error": "no weight quantized"}
        return {"model": name, "handled": True, "quantized_nodes": quantized}
    except Exception as error:  # any failure counts as not handled, with its message
        message = str(error).strip().splitlines()
        return {"model": name, "handled": False, "quantized_nodes": 0,
                "error": (type(error).__name__ + ": " + (message[0] if message else ""))[:300]}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for path in sys.argv[2:]:
        print(json.dumps(one(path, out_dir)), flush=True)


if __name__ == "__main__":
    main()

"""Writes a model of chained MatMul weights with external data, one tensor in memory at a time.

    python external_matmuls.py OUT.onnx [PAIRS]
    python external_matmuls.py OUT.onnx wide      # one weight over 2 GiB, written a block of rows at a time

x float[1, 8, 4096] -> (MatMul by W_up_i [4096, 11008], MatMul by W_down_i [11008, 4096]) x PAIRS -> y: a 7B-class
decoder's MLP shapes, random normal weights with standard deviation 1 / sqrt(fan in), seeded. Each pair is 360.7 MB of
float32; 9 pairs (the default) are 3.25 GB, in OUT.onnx.data beside OUT.onnx (tensors at offsets aligned to 4096).
Used by bundle-api.sh to send a model over 2 GB through the API. With "wide": x float[1, 8, 8192] -> MatMul by
W [8192, 73728] -> y, one weight of 2,415,919,104 bytes (2.25 GiB, over what one Java array or protobuf message holds).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HIDDEN = 4096
INNER = 11008
ALIGN = 4096


def wide(out):
    rows, cols = 8192, 73728
    data_name = os.path.basename(out) + ".data"
    rng = np.random.default_rng(7)
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), data_name), "wb") as data:
        for first in range(0, rows, 512):
            data.write((rng.standard_normal((512, cols), dtype=np.float32) / np.sqrt(rows)).astype("<f4").tobytes())
    tensor = TensorProto(name="w_wide", data_type=TensorProto.FLOAT, dims=[rows, cols], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", data_name), ("offset", "0"), ("length", str(rows * cols * 4))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w_wide"], ["y"], name="wide_matmul")], "wide",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, rows])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, cols])], initializer=[tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {out} and {data_name}: one [{rows}, {cols}] weight, {rows * cols * 4} bytes of data")


def main():
    out = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "wide":
        wide(out)
        return
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    data_name = os.path.basename(out) + ".data"
    rng = np.random.default_rng(7)
    initializers = []
    nodes = []
    previous = "x"
    offset = 0
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), data_name), "wb") as data:
        for i in range(pairs):
            for name, rows, cols in ((f"w_up_{i}", HIDDEN, INNER), (f"w_down_{i}", INNER, HIDDEN)):
                weight = (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(rows)).astype("<f4")
                offset = (offset + ALIGN - 1) // ALIGN * ALIGN
                data.seek(offset)
                data.write(weight.tobytes())
                tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[rows, cols],
                                     data_location=TensorProto.EXTERNAL)
                for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(weight.nbytes))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, value
                offset += weight.nbytes
                initializers.append(tensor)
                output = "y" if (i == pairs - 1 and name.startswith("w_down")) else name + "_out"
                nodes.append(helper.make_node("MatMul", [previous, name], [output], name=name + "_matmul"))
                previous = output
                del weight
    graph = helper.make_graph(nodes, "external_matmuls",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, HIDDEN])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, HIDDEN])],
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {out} and {data_name}: {pairs} pairs, {offset} bytes of data")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes the generated part of the model corpus CorpusIT compresses (integration-tests/src/test/resources/corpus).

Each model is small (random weights, fixed seeds) and stands for one way real exporters write graphs that differ
from what a recent PyTorch export looks like: weights in Constant nodes (paddle2onnx, tf2onnx), initializers listed
as graph inputs (IR 3), weights behind Cast/Transpose/Reshape/Identity chains, shared (tied) weights, float16
graphs, weights already quantized through DequantizeLinear, ConvTranspose, grouped and depthwise Conv, MatMul with
the weight on either side and batched, Gemm with transA/transB, Einsum, LSTM/GRU, If subgraphs, free dimensions,
opsets 7 to 21. A few are real PyTorch exports (an LSTM, a ConvTranspose decoder, a transformer block).

Run with Debian's python3-onnx (1.12) and python3-torch (1.13), which import under /usr/bin/python3 only:

    /usr/bin/python3 integration-tests/src/test/python/make_corpus.py

The files are committed; the script is here to say how they were made and to make them again.
"""
import io
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "corpus")
RNG = np.random.default_rng(19)


def weights(*shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return (RNG.standard_normal(shape) * (scale or 1.0 / np.sqrt(max(fan_in, 1)))).astype(np.float32)


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model, full_check=True)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    print(f"{name}: opset {model.opset_import[0].version}, IR {model.ir_version}, {os.path.getsize(path)} bytes")


def model(graph, opset, ir=None):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="condense-corpus")
    if ir is not None:
        m.ir_version = ir
    return m


def constant(name, array):
    return helper.make_node("Constant", [], [name], name=name + "_const", value=numpy_helper.from_array(array, name))


def constant_nodes_cnn():
    """paddle2onnx style: every weight a Constant node, no initializer, opset 11, free batch."""
    nodes = [
        constant("conv1.w", weights(8, 3, 3, 3)),
        constant("conv1.b", np.zeros(8, np.float32) + 0.01),
        helper.make_node("Conv", ["x", "conv1.w", "conv1.b"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        constant("conv2.w", weights(16, 8, 3, 3)),
        helper.make_node("Conv", ["r1", "conv2.w"], ["c2"], name="conv2", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        constant("flat_shape", np.array([0, -1], np.int64)),
        helper.make_node("Reshape", ["g", "flat_shape"], ["f"]),
        constant("fc.w", weights(16, 10)),
        constant("fc.b", np.zeros(10, np.float32)),
        helper.make_node("MatMul", ["f", "fc.w"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "fc.b"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "constant_nodes_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])])
    save(model(graph, 11, 6), "constant_nodes_cnn")


def sparse_and_scalar_constants():
    """Constant nodes with sparse_value, value_float, value_floats and value_ints (opset 12 and later)."""
    dense = weights(32, 16)
    dense[np.abs(dense) < 0.2] = 0
    flat = dense.flatten()
    idx = np.nonzero(flat)[0].astype(np.int64)
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(flat[idx], "fc_sparse.w"),
                                       numpy_helper.from_array(idx, "fc_sparse.w_indices"), [32, 16])
    nodes = [
        helper.make_node("Constant", [], ["fc_sparse.w"], sparse_value=sparse),
        helper.make_node("MatMul", ["x", "fc_sparse.w"], ["m"], name="fc_sparse"),
        helper.make_node("Constant", [], ["scale"], value_float=0.5),
        helper.make_node("Mul", ["m", "scale"], ["s"]),
        helper.make_node("Constant", [], ["fc2.w_flat"], value_floats=[float(v) for v in weights(16, 8).flatten()]),
        helper.make_node("Constant", [], ["fc2.shape"], value_ints=[16, 8]),
        helper.make_node("Reshape", ["fc2.w_flat", "fc2.shape"], ["fc2.w"]),
        helper.make_node("MatMul", ["s", "fc2.w"], ["y"], name="fc2"),
    ]
    graph = helper.make_graph(nodes, "sparse_and_scalar_constants",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    save(model(graph, 13, 7), "sparse_and_scalar_constants")


def graph_input_initializers_ir3():
    """IR 3 / opset 7 (old exporters): every initializer also a graph input."""
    w1 = numpy_helper.from_array(weights(8, 1, 5, 5), "w1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "b1")
    w2 = numpy_helper.from_array(weights(8 * 12 * 12, 10), "w2")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w2"], ["y"], name="fc"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16, 16])]
    for t in (w1, b1, w2, shape):
        inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    graph = helper.make_graph(nodes, "graph_input_initializers_ir3", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w1, b1, w2, shape])
    save(model(graph, 7, 3), "graph_input_initializers_ir3")


def constant_chains():
    """Weights reached through Cast (fp16 storage), Transpose, Reshape and Identity of constants."""
    w16 = weights(24, 32).astype(np.float16)  # stored [out, in] half, used as [in, out] float
    conv = weights(8, 4, 3, 3).reshape(8, 36)
    nodes = [
        constant("w16", w16),
        helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["w32"], ["wt"], perm=[1, 0]),
        helper.make_node("Identity", ["wt"], ["wt_id"]),
        helper.make_node("MatMul", ["v", "wt_id"], ["m"], name="fc_chain"),
        constant("conv_flat", conv),
        constant("conv_shape", np.array([8, 4, 3, 3], np.int64)),
        helper.make_node("Reshape", ["conv_flat", "conv_shape"], ["conv_w"]),
        helper.make_node("Conv", ["x", "conv_w"], ["c"], name="conv_chain", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(nodes, "constant_chains",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8]),
                               helper.make_tensor_value_info("v", TensorProto.FLOAT, [2, 32])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 8, 8, 8]),
                               helper.make_tensor_value_info("m", TensorProto.FLOAT, [2, 24])])
    save(model(graph, 13, 7), "constant_chains")


def shared_weights():
    """One weight read by two MatMul nodes (tied embeddings / siamese branches): compressed once, written once."""
    w = numpy_helper.from_array(weights(32, 32), "tied.w")
    nodes = [
        helper.make_node("MatMul", ["a", "tied.w"], ["ma"], name="branch_a"),
        helper.make_node("MatMul", ["b", "tied.w"], ["mb"], name="branch_b"),
        helper.make_node("Sub", ["ma", "mb"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "shared_weights",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, 32]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])], [w])
    save(model(graph, 13, 7), "shared_weights")


def float16_model():
    """A whole float16 graph (weights and activations half)."""
    w = numpy_helper.from_array(weights(8, 3, 3, 3).astype(np.float16), "conv.w")
    g = numpy_helper.from_array(weights(8 * 6 * 6, 10).astype(np.float16), "fc.w")
    nodes = [
        helper.make_node("Conv", ["x", "conv.w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("MatMul", ["f", "fc.w"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(nodes, "float16_model",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 10])], [w, g])
    save(model(graph, 13, 7), "float16_model")


def already_quantized():
    """A Conv whose weight is int8 through DequantizeLinear (a QDQ export), then a float Gemm."""
    w = weights(8, 3, 3, 3)
    scale = np.abs(w).reshape(8, -1).max(axis=1) / 127
    q = np.clip(np.round(w / scale[:, None, None, None]), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(q, "conv.w_q"), numpy_helper.from_array(scale.astype(np.float32), "conv.w_scale"),
             numpy_helper.from_array(np.zeros(8, np.int8), "conv.w_zero"),
             numpy_helper.from_array(weights(10, 8 * 6 * 6), "fc.w"), numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
    nodes = [
        helper.make_node("DequantizeLinear", ["conv.w_q", "conv.w_scale", "conv.w_zero"], ["conv.w"], axis=0),
        helper.make_node("Conv", ["x", "conv.w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "already_quantized",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    save(model(graph, 13, 7), "already_quantized")


def convolutions():
    """Grouped and depthwise Conv, ConvTranspose (group 1 and 2) as in decoders and FPN heads."""
    inits = [numpy_helper.from_array(weights(16, 4, 3, 3), "grouped.w"),          # group=2: 8 in -> 16 out
             numpy_helper.from_array(weights(16, 1, 3, 3), "depthwise.w"),        # group=16
             numpy_helper.from_array(weights(16, 8, 4, 4), "deconv.w"),           # [C_in=16, C_out=8, 4, 4]
             numpy_helper.from_array(np.zeros(8, np.float32) + 0.1, "deconv.b"),
             numpy_helper.from_array(weights(8, 4, 2, 2), "deconv_g2.w")]         # group=2: [8, 4/.. ] -> 8 out
    nodes = [
        helper.make_node("Conv", ["x", "grouped.w"], ["g"], name="grouped", group=2, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["g"], ["g_r"]),
        helper.make_node("Conv", ["g_r", "depthwise.w"], ["d"], name="depthwise", group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["d_r"]),
        helper.make_node("ConvTranspose", ["d_r", "deconv.w", "deconv.b"], ["u"], name="deconv", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["u"], ["u_r"]),
        helper.make_node("ConvTranspose", ["u_r", "deconv_g2.w"], ["y"], name="deconv_g2", group=2, strides=[2, 2]),
    ]
    graph = helper.make_graph(nodes, "convolutions",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 32, 32])], inits)
    save(model(graph, 13, 7), "convolutions")


def matmul_forms():
    """MatMul with the weight first (Y = W X) and batched [2, K, N]; Gemm with transA=1 and transB=1."""
    inits = [numpy_helper.from_array(weights(16, 24), "left.w"),                 # [16, 24] x [24, 8]
             numpy_helper.from_array(weights(2, 8, 12, scale=0.3), "batched.w"),  # [2, 8, 8] x [2, 8, 12]
             numpy_helper.from_array(weights(6, 12), "gemm.w"),
             numpy_helper.from_array(np.zeros(6, np.float32), "gemm.b"),
             numpy_helper.from_array(np.array([2, 8, 8], np.int64), "split_shape")]
    nodes = [
        helper.make_node("MatMul", ["left.w", "x"], ["l"], name="left"),               # [16, 8]
        helper.make_node("Relu", ["l"], ["l_r"]),
        helper.make_node("Reshape", ["l_r", "split_shape"], ["s"]),                     # [2, 8, 8] (16*8 = 2*8*8)
        helper.make_node("MatMul", ["s", "batched.w"], ["b"], name="batched"),           # [2, 8, 12]
        helper.make_node("ReduceMean", ["b"], ["bm"], axes=[0], keepdims=0),             # [8, 12]
        helper.make_node("Transpose", ["bm"], ["bt"], perm=[1, 0]),                      # [12, 8]
        helper.make_node("Gemm", ["bt", "gemm.w", "gemm.b"], ["y"], name="gemm_ta_tb", transA=1, transB=1),  # [8, 6]
    ]
    graph = helper.make_graph(nodes, "matmul_forms",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [24, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 6])], inits)
    save(model(graph, 13, 7), "matmul_forms")


def einsum():
    """Einsum written as a matrix product (tf2onnx, some transformer exports), both weight layouts."""
    inits = [numpy_helper.from_array(weights(32, 16), "e1.w"), numpy_helper.from_array(weights(8, 16), "e2.w")]
    nodes = [
        helper.make_node("Einsum", ["x", "e1.w"], ["h"], name="einsum_jk", equation="bij,jk->bik"),
        helper.make_node("Relu", ["h"], ["h_r"]),
        helper.make_node("Einsum", ["h_r", "e2.w"], ["y"], name="einsum_kj", equation="bij,kj->bik"),
    ]
    graph = helper.make_graph(nodes, "einsum",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 8])], inits)
    save(model(graph, 12, 7), "einsum")


def if_subgraph():
    """An If whose branches read outer-scope weights and hold their own Constant weight."""
    outer = numpy_helper.from_array(weights(16, 16), "outer.w")
    then_graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "outer.w"], ["t"], name="then_fc")], "then_branch", [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4, 16])])
    else_graph = helper.make_graph(
        [constant("inner.w", weights(16, 16)), helper.make_node("MatMul", ["x", "inner.w"], ["e"], name="else_fc")],
        "else_branch", [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4, 16])])
    inits = [outer, numpy_helper.from_array(weights(16, 16), "head.w")]
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.float32))),
        helper.make_node("Greater", ["total", "zero"], ["positive"]),
        helper.make_node("If", ["positive"], ["branch"], name="if", then_branch=then_graph, else_branch=else_graph),
        helper.make_node("MatMul", ["branch", "head.w"], ["y"], name="head"),
    ]
    graph = helper.make_graph(nodes, "if_subgraph",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])], inits)
    save(model(graph, 13, 7), "if_subgraph")


def dynamic_dims():
    """A text-detector-like net with free batch, height and width (PaddleOCR det: [?, 3, ?, ?])."""
    inits = [numpy_helper.from_array(weights(8, 3, 3, 3), "c1.w"), numpy_helper.from_array(weights(8, 8, 3, 3), "c2.w"),
             numpy_helper.from_array(weights(8, 4, 2, 2), "up.w"), numpy_helper.from_array(weights(1, 4, 1, 1), "head.w")]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w"], ["a"], name="c1", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["a_r"]),
        helper.make_node("Conv", ["a_r", "c2.w"], ["b"], name="c2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["b_r"]),
        helper.make_node("ConvTranspose", ["b_r", "up.w"], ["u"], name="up", strides=[2, 2]),
        helper.make_node("Relu", ["u"], ["u_r"]),
        helper.make_node("Conv", ["u_r", "head.w"], ["h"], name="head"),
        helper.make_node("Sigmoid", ["h"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "dynamic_dims",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, "height", "width"])], inits)
    save(model(graph, 11, 6), "dynamic_dims")


def upsample_opset9():
    """An FPN-style decoder exported at opset 9 with Upsample (older PyTorch and Keras converters); own seed, added later."""
    global RNG
    saved, RNG = RNG, np.random.default_rng(99)
    inits = [numpy_helper.from_array(weights(8, 3, 3, 3), "c1.w"), numpy_helper.from_array(weights(4, 8, 3, 3), "c2.w"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w"], ["a"], name="c1", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["a_r"]),
        helper.make_node("Upsample", ["a_r", "scales"], ["u"], name="up", mode="nearest"),
        helper.make_node("Conv", ["u", "c2.w"], ["y"], name="c2", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(nodes, "upsample_opset9",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], inits)
    RNG = saved
    save(model(graph, 9, 4), "upsample_opset9")


def opset(version, ir):
    """The same small MLP+Conv at the ends of the range: opset 7 / IR 3 is graph_input_initializers_ir3."""
    inits = [numpy_helper.from_array(weights(4, 2, 3, 3), "conv.w"), numpy_helper.from_array(weights(4 * 6 * 6, 10), "fc.w"),
             numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
    nodes = [
        helper.make_node("Conv", ["x", "conv.w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(nodes, f"opset{version}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    # ONNX 1.12's checker knows opsets up to 17: newer ones are written unchecked (ONNX Runtime checks them in CorpusIT)
    save(model(graph, version, ir), f"opset{version}", check=version <= 17)


def torch_exports():
    import torch
    from torch import nn
    torch.manual_seed(19)

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(12, 24, batch_first=True)
            self.gru = nn.GRU(24, 16, batch_first=True)
            self.head = nn.Linear(16, 5)

        def forward(self, x):
            h, _ = self.lstm(x)
            h, _ = self.gru(h)
            return self.head(h)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(16)
            self.up = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
            self.up2 = nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2)
            self.out = nn.Conv2d(4, 2, 1)

        def forward(self, x):
            return self.out(torch.relu(self.up2(torch.relu(self.up(torch.relu(self.bn(self.conv(x))))))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(16, 32)
            self.layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            self.head = nn.Linear(32, 4)

        def forward(self, x):
            return self.head(self.layer(self.embed(x)))

    def export(module, example, name, opset, dynamic=None, constants_as_nodes=False):
        module.eval()
        buffer = io.BytesIO()
        torch.onnx.export(module, example, buffer, opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes=dynamic)
        exported = onnx.load_from_string(buffer.getvalue())
        if constants_as_nodes:
            graph = exported.graph
            const_nodes = [helper.make_node("Constant", [], [t.name], name=t.name + "_const", value=t)
                           for t in graph.initializer]
            kept = [n for n in graph.node]
            del graph.node[:]
            graph.node.extend(const_nodes + kept)
            inits = {t.name for t in graph.initializer}
            real_inputs = [i for i in graph.input if i.name not in inits]
            del graph.input[:]
            graph.input.extend(real_inputs)
            del graph.initializer[:]
        save(exported, name)

    export(Recurrent(), torch.randn(2, 7, 12), "torch_lstm_gru", 14, {"input": {0: "batch", 1: "time"}})
    decoder = Decoder()
    with torch.no_grad():
        decoder.bn.running_mean.uniform_(-0.2, 0.2)
        decoder.bn.running_var.uniform_(0.5, 1.5)
    export(decoder, torch.randn(1, 3, 32, 32), "torch_convtranspose", 13)
    export(Block(), torch.randn(1, 10, 16), "torch_transformer_block", 14, {"input": {0: "batch", 1: "tokens"}})
    export(Decoder(), torch.randn(1, 3, 32, 32), "torch_constant_nodes", 11, constants_as_nodes=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    constant_nodes_cnn()
    sparse_and_scalar_constants()
    graph_input_initializers_ir3()
    constant_chains()
    shared_weights()
    float16_model()
    already_quantized()
    convolutions()
    matmul_forms()
    einsum()
    if_subgraph()
    dynamic_dims()
    opset(9, 4)
    opset(17, 8)
    opset(21, 10)
    upsample_opset9()
    if "--no-torch" not in sys.argv:
        torch_exports()


if __name__ == "__main__":
    main()

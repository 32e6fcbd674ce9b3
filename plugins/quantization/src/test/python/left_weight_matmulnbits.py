# A weight on the LEFT of MatMul (W [M, K] x X [1, K, N]) at 4 bits, block 32, in ONNX Runtime (level ALL, 1 thread):
# the QDQ form quantize writes without format=matmulnbits (DequantizeLinear + MatMul) against the form it writes with it
# (Transpose, com.microsoft.MatMulNBits, Transpose). Median of 30 interleaved runs each; both checked against the
# dequantized weight times X in numpy. Usage: python left_weight_matmulnbits.py (onnxruntime, onnx, numpy).
import sys, time, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper

def build(M, K, N, form, block=32):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 16, size=(M, K), dtype=np.uint8)
    scales = (rng.random((M, K // block), dtype=np.float32) * 0.01 + 0.001).astype(np.float32)
    zeros = np.full((M, K // block), 8, dtype=np.uint8)
    X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, K, N])
    Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, M, N])
    if form == "qdq":
        inits = [helper.make_tensor("w_q", TensorProto.UINT4, [M, K], levels.flatten().tolist()),
                 numpy_helper.from_array(scales, "w_s"),
                 helper.make_tensor("w_z", TensorProto.UINT4, [M, K // block], zeros.flatten().tolist())]
        nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=1, block_size=block),
                 helper.make_node("MatMul", ["w", "x"], ["y"])]
        opsets = [helper.make_opsetid("", 21)]
    else:
        packed = (levels[:, 0::2] | (levels[:, 1::2] << 4)).astype(np.uint8).reshape(M, K // block, block // 2)
        zp = (zeros[:, 0::2] | (zeros[:, 1::2] << 4)).astype(np.uint8)
        inits = [numpy_helper.from_array(packed, "b"), numpy_helper.from_array(scales.reshape(-1), "s"),
                 numpy_helper.from_array(zp, "z")]
        nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
                 helper.make_node("MatMulNBits", ["xt", "b", "s", "z"], ["yt"], domain="com.microsoft", K=K, N=M, bits=4, block_size=block),
                 helper.make_node("Transpose", ["yt"], ["y"], perm=[0, 2, 1])]
        opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    g = helper.make_graph(nodes, "g", [X], [Y], inits)
    m = helper.make_model(g, opset_imports=opsets, ir_version=10)
    return m.SerializeToString(), levels, scales, zeros

def session(b, threads):
    o = ort.SessionOptions(); o.intra_op_num_threads = threads
    return ort.InferenceSession(b, o, providers=["CPUExecutionProvider"])

for M, K, N in [(4096, 4096, 1), (4096, 4096, 32), (11008, 4096, 8)]:
    x = np.random.default_rng(1).standard_normal((1, K, N)).astype(np.float32)
    q, levels, scales, zeros = build(M, K, N, "qdq")
    n, _, _, _ = build(M, K, N, "nbits")
    ref = ((levels.astype(np.float32) - 8) * np.repeat(scales, 32, axis=1)) @ x[0]
    for threads in [1]:
        sq, sn = session(q, threads), session(n, threads)
        yq = sq.run(None, {"x": x})[0]; yn = sn.run(None, {"x": x})[0]
        times = {"qdq": [], "nbits": []}
        for r in range(30):
            for name, s in (("qdq", sq), ("nbits", sn)) if r % 2 == 0 else (("nbits", sn), ("qdq", sq)):
                t = time.perf_counter(); s.run(None, {"x": x}); times[name].append(time.perf_counter() - t)
        mq, mn = np.median(times["qdq"]) * 1e3, np.median(times["nbits"]) * 1e3
        err = lambda y: float(np.sqrt(((y[0] - ref) ** 2).sum() / (ref ** 2).sum()))
        print(f"W [{M},{K}] x X [1,{K},{N}] threads={threads}: QDQ {mq:.2f} ms, Transpose+MatMulNBits+Transpose {mn:.2f} ms "
              f"({mq / mn:.2f}x); rel err vs dequantized ref qdq {err(yq):.2e} nbits {err(yn):.2e}", flush=True)

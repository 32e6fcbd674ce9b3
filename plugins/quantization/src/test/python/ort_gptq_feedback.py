"""Whether ONNX Runtime's GPTQ feeds the rounding error forward: its gptq() against round to nearest on one weight.

usage: python ort_gptq_feedback.py     (in a venv with onnxruntime==1.30.0 onnx onnx_ir, see the README's scale benchmark)
W [256, 64] (MatMul orientation [in, out]) and H = 2 X^T X / n of 1024 inputs with spread feature scales; prints the
largest difference between onnxruntime.quantization.neural_compressor.weight_only.gptq's weights and blockwise round to
nearest with the same groups (32 features, asymmetric, 4 bits), and the output error tr((W - Q)^T H (W - Q)) of both.
"""
import numpy as np
from onnxruntime.quantization.neural_compressor.weight_only import gptq


def round_to_nearest(weights, group):
    result = np.empty_like(weights)
    for first in range(0, weights.shape[0], group):
        block = weights[first : first + group]
        low = np.minimum(block.min(0), 0)
        high = np.maximum(block.max(0), 0)
        scale = (high - low) / 15
        zero = np.round(-low / scale)
        result[first : first + group] = scale * (np.clip(np.round(block / scale) + zero, 0, 15) - zero)
    return result


def main():
    rng = np.random.default_rng(0)
    features, outputs, rows = 256, 64, 1024
    weights = rng.standard_normal((features, outputs)).astype(np.float32)
    inputs = rng.standard_normal((rows, features)) * np.exp(0.5 * rng.standard_normal(features))
    hessian = 2 * inputs.T @ inputs / rows
    quantized = gptq(weights.copy(), hessian.copy(), num_bits=4, group_size=32, scheme="asym", blocksize=128, percdamp=0.01)
    nearest = round_to_nearest(weights, 32)

    def error(q):
        return float(np.trace((weights - q).T @ hessian @ (weights - q)))

    print(f"max |gptq - round to nearest| = {np.abs(quantized - nearest).max():.3g}")
    print(f"output error: round to nearest {error(nearest):.6g}, onnxruntime gptq {error(quantized):.6g}")


if __name__ == "__main__":
    main()

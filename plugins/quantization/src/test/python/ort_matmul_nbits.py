"""ONNX Runtime's own weight-only quantizer on a model file, timed, for LargeModelBenchmark.

usage: python ort_matmul_nbits.py INPUT.onnx OUTPUT.onnx BLOCK BITS
Runs onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer (its default algorithm: blockwise round to
nearest with zero points, is_symmetric=False, as Condense's method=rtn) from loading the model to saving it with
external data, and prints one JSON line: wall seconds and the process's peak resident set (ru_maxrss).
"""
import json
import resource
import sys
import time

from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer


def main():
    source, target, block, bits = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    start = time.monotonic()
    quantizer = MatMulNBitsQuantizer(source, bits=bits, block_size=block, is_symmetric=False)
    quantizer.process()
    quantizer.model.save_model_to_file(target, use_external_data_format=True)
    seconds = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024.0}))


if __name__ == "__main__":
    main()

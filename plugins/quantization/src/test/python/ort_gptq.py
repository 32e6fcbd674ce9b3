"""ONNX Runtime's own GPTQ (MatMulNBitsQuantizer with GPTQWeightOnlyQuantConfig) on a model file, timed, for
LargeModelBenchmark's "ortgptq" run.

usage: python ort_gptq.py INPUT.onnx OUTPUT.onnx BLOCK BITS CALIBRATION.npy
CALIBRATION.npy holds the model inputs [samples, tokens, features] that Condense's GPTQ run calibrates on (written by
LargeModelBenchmark); each sample is fed as [1, tokens, features]. ONNX Runtime 1.30 ships this GPTQ in
onnxruntime/quantization/neural_compressor/weight_only.py (numpy only: no Intel Neural Compressor, no torch); asymmetric
levels with zero points, groups of BLOCK input features, its default lazy batch of 128 features, 1% damping, no act-order,
as Condense's method=gptq. Prints one JSON line: wall seconds from loading to the saved file and the peak resident set
(ru_maxrss).
"""
import json
import resource
import sys
import time

import numpy as np
from onnxruntime.quantization.calibrate import CalibrationDataReader
from onnxruntime.quantization.matmul_nbits_quantizer import GPTQWeightOnlyQuantConfig, MatMulNBitsQuantizer


class Samples(CalibrationDataReader):
    def __init__(self, path, name):
        self.path = path
        self.name = name
        self.rewind()

    def rewind(self):
        self.data = np.load(self.path, mmap_mode="r")
        self.next = 0

    def get_next(self):
        if self.next >= self.data.shape[0]:
            return None
        sample = np.ascontiguousarray(self.data[self.next : self.next + 1], dtype=np.float32)
        self.next += 1
        return {self.name: sample}

    def __deepcopy__(self, memo):
        # the quantizer deep-copies the reader before each pass: a fresh reader of the same file
        return Samples(self.path, self.name)


def main():
    source, target, block, bits, calibration = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    start = time.monotonic()
    config = GPTQWeightOnlyQuantConfig(calibration_data_reader=Samples(calibration, "x"))
    quantizer = MatMulNBitsQuantizer(source, bits=bits, block_size=block, is_symmetric=False, algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(target, use_external_data_format=True)
    seconds = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024.0}))


if __name__ == "__main__":
    main()

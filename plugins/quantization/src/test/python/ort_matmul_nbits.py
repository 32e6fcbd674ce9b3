"""ONNX Runtime's own weight-only quantizer on a model file, timed, for LargeModelBenchmark.

usage: python ort_matmul_nbits.py INPUT.onnx OUTPUT.onnx BLOCK BITS [CALIBRATION.npy]
Runs onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer (is_symmetric=False: asymmetric levels with
zero points, groups of BLOCK input features) from loading the model to saving it with external data, and prints one JSON
line: wall seconds and the process's peak resident set (ru_maxrss).
- Without CALIBRATION.npy: its default algorithm, blockwise round to nearest, as Condense's method=rtn.
- With CALIBRATION.npy (model inputs [samples, tokens, features], written by LargeModelBenchmark from the data Condense's
  gptq run calibrates on; each sample fed as [1, tokens, features]): GPTQWeightOnlyQuantConfig, its GPTQ with its defaults
  (lazy batch of 128 features, 1% damping, no act-order), as Condense's method=gptq. ONNX Runtime 1.30 ships this GPTQ in
  onnxruntime/quantization/neural_compressor/weight_only.py (numpy; no Intel Neural Compressor): given calibration samples as
  dicts it imports torch (util.to_numpy), so they are handed over as arrays (see Samples.get_next).
"""
import json
import os
import resource
import sys
import time

import numpy as np
from onnx.external_data_helper import load_external_data_for_model
from onnxruntime.quantization.calibrate import CalibrationDataReader
from onnxruntime.quantization.matmul_nbits_quantizer import GPTQWeightOnlyQuantConfig, MatMulNBitsQuantizer


class Samples(CalibrationDataReader):
    """The samples of an .npy file, one at a time, for the model's one input."""

    def __init__(self, path, name):
        self.path = path
        self.name = name
        self.data = np.load(path, mmap_mode="r")
        self.next = 0

    def get_next(self):
        if self.next >= self.data.shape[0]:
            return None
        sample = np.ascontiguousarray(self.data[self.next : self.next + 1], dtype=np.float32)
        self.next += 1
        # the array itself rather than {name: array}: ONNX Runtime 1.30's GPTQ converts a dict's values with
        # neural_compressor.util.to_numpy, which imports torch even for numpy arrays; an array it feeds to the model's
        # one input as it is, without torch
        return sample

    def __deepcopy__(self, memo):
        # the quantizer deep-copies the reader before reading it: a fresh reader of the same file
        return Samples(self.path, self.name)


def main():
    source, target = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    block, bits = int(sys.argv[3]), int(sys.argv[4])
    config = GPTQWeightOnlyQuantConfig(calibration_data_reader=Samples(os.path.abspath(sys.argv[5]), "x")) if len(sys.argv) > 5 else None
    # ONNX Runtime's GPTQ makes its sessions of a model under 2 GB from bytes, and ONNX Runtime then resolves the external
    # data against the working directory (elsewhere it refuses: "External data path for model loaded from bytes escapes
    # working directory"): work in the model's folder
    os.chdir(os.path.dirname(source))
    # an earlier run's output goes first (outside the timing): onnx refuses to write external data over an existing file
    for stale in (target, target + ".data"):
        if os.path.exists(stale):
            os.remove(stale)
    start = time.monotonic()
    quantizer = MatMulNBitsQuantizer(source, bits=bits, block_size=block, is_symmetric=False, algo_config=config)
    quantizer.process()
    # ONNX Runtime's GPTQ reloads a model under 2 GB without its external data and leaves the tensors it does not
    # quantize (LayerNormalization's) pointing into the input's data file: read them in, so the output holds them
    load_external_data_for_model(quantizer.model.model, os.path.dirname(source))
    # the data file is named after the output and checked for relative to the working directory
    os.chdir(os.path.dirname(target))
    quantizer.model.save_model_to_file(target, use_external_data_format=True)
    seconds = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024.0}))


if __name__ == "__main__":
    main()

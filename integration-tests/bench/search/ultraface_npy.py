"""Evaluation and calibration inputs for UltraFace from the two photos in ../shared/models/ultraface/test_data.

The two preprocessed photos ((x-127)/128, NCHW 1x3x240x320) and variants of them: mirrored, shifted by a few pixels,
brighter and darker. eval.npy: 16 inputs; calib.npy: 8 other variants. There are no labels: the search's constraint is
the output SQNR against the original model.

usage: python ultraface_npy.py OUT_DIR [ULTRAFACE_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto, numpy_helper


def photo(path):
    tensor = TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor).astype(np.float32)


def variants(x, shifts, gains):
    out = []
    for mirror in (False, True):
        base = x[:, :, :, ::-1] if mirror else x
        for shift in shifts:
            for gain in gains:
                out.append(np.clip(np.roll(base, shift, axis=3) * gain, -1.0, 1.0))
    return out


def main():
    out = sys.argv[1]
    folder = sys.argv[2] if len(sys.argv) > 2 else "../shared/models/ultraface"
    os.makedirs(out, exist_ok=True)
    photos = [photo(os.path.join(folder, "test_data", f"img{i}_input_0.pb")) for i in (1, 2)]
    evaluation = [v for p in photos for v in variants(p, (0, 8), (1.0, 0.9))]
    calibration = [v for p in photos for v in variants(p, (-6,), (1.1, 0.8))]
    np.save(os.path.join(out, "eval.npy"), np.concatenate(evaluation).astype(np.float32))
    np.save(os.path.join(out, "calib.npy"), np.concatenate(calibration).astype(np.float32))


if __name__ == "__main__":
    main()

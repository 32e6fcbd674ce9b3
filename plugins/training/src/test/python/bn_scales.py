"""Prints the |gamma| of every BatchNormalization scale initializer (name ending in .bn.scale) of an ONNX model, and how
many channels of each layer one global threshold over all of them would remove at a given share (network slimming's
global threshold, without prune(structure=channel, criterion=bn_scale)'s tenth kept per layer and blocks of 8: its report's
layers give what it removed). Usage: python bn_scales.py model.onnx [share, default 0.5]."""
import sys
from collections import Counter

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    model = onnx.load(sys.argv[1])
    share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    scales = {t.name[: -len(".bn.scale")]: np.abs(numpy_helper.to_array(t)) for t in model.graph.initializer
              if t.name.endswith(".bn.scale")}
    everything = []
    for layer, gamma in scales.items():
        print(f"{layer}: {gamma.size} channels, 8 smallest |gamma| {[round(float(v), 3) for v in np.sort(gamma)[:8]]}, "
              f"median {np.median(gamma):.3f}, largest {gamma.max():.3f}")
        everything += [(value, layer) for value in gamma]
    everything.sort(key=lambda pair: pair[0])
    removed = Counter(layer for _, layer in everything[: round(share * len(everything))])
    print(f"one global threshold removing {share:.0%} of all channels: "
          + ", ".join(f"{layer} {removed.get(layer, 0)} of {scales[layer].size}" for layer in scales))


if __name__ == "__main__":
    main()

"""Single-sample latency of a compressed model against its original in ONNX Runtime, measured alternately.

The search's own latency ratio is one median per candidate job, measured while other candidates run beside it. This
measures both models in one process, each loaded as the server's evaluator loads it (graph inputs that merely repeat an
initializer, as old exports such as UltraFace's write them, are left out, so that ONNX Runtime treats those weights as
constants and folds them; otherwise such an original runs unfused and looks about three times slower), with one intra-op
thread each by default, in alternating blocks (so a change of the machine's load hits both alike). It prints each model's
median over all runs and the ratio of the medians, with the range of the per-block ratios.

usage: python latency_ratio.py ORIGINAL.onnx COMPRESSED.onnx INPUTS.npy [BLOCKS] [RUNS_PER_BLOCK] [INTRA_OP_THREADS]
"""
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort


def model_bytes(path):
    model = onnx.load(path)
    initializers = {i.name for i in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model.SerializeToString()


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes(path), options, providers=["CPUExecutionProvider"])


def block(sess, name, inputs, runs):
    times = []
    for i in range(runs):
        x = inputs[i % len(inputs)][None]
        start = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - start)
    return times


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    original, compressed, data = sys.argv[1], sys.argv[2], sys.argv[3]
    blocks = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    runs = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    inputs = np.load(data).astype(np.float32)
    sessions = [session(original, threads), session(compressed, threads)]
    names = [s.get_inputs()[0].name for s in sessions]
    for s, n in zip(sessions, names):
        block(s, n, inputs, 3)  # warm-up
    all_times = [[], []]
    ratios = []
    for _ in range(blocks):
        medians = []
        for k in (0, 1):
            t = block(sessions[k], names[k], inputs, runs)
            all_times[k].extend(t)
            medians.append(statistics.median(t))
        ratios.append(medians[1] / medians[0])
    m0, m1 = statistics.median(all_times[0]), statistics.median(all_times[1])
    print(f"original   {original}\tmedian {m0 * 1000:.2f} ms over {len(all_times[0])} runs")
    print(f"compressed {compressed}\tmedian {m1 * 1000:.2f} ms over {len(all_times[1])} runs")
    print(f"latency ratio {m1 / m0:.2f} (per block {min(ratios):.2f}-{max(ratios):.2f}, {blocks} blocks of {runs}, {threads} intra-op thread(s))")


if __name__ == "__main__":
    main()

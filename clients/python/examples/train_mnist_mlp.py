#!/usr/bin/env python3
"""A training loop that streams its weights into a Condense channel while a watcher receives the compressed versions.

Trains LeNet-300-100 (784-300-100-10, ReLU) in plain numpy with SGD on the shared MNIST digits (8,000 for training, the
last 2,000 held out and given to the channel as evaluation data), pushes the weights every --push-every steps, and a
second thread watches the channel and prints each version as it arrives (COMPRESSED, or REJECTED by the gate while the
network is still learning, or SUPERSEDED when a newer push overtook it). Ends with one line of JSON.

    python examples/train_mnist_mlp.py --server 127.0.0.1:50051 --base lenet-300-100.onnx \\
        --data ../shared/data/mnist-digits --steps 600 --push-every 100

--base is an ONNX model of the same network whose initializers are named as torch.onnx.export names them (fc1.weight,
fc1.bias, ... with weights [out, in] used through Gemm transB=1, input image [batch, 1, 28, 28] in [0, 1]); without it
the example builds one with the onnx package (pip install onnx).
"""
import argparse
import json
import os
import struct
import sys
import tempfile
import threading
import time

# a network this small runs fastest on one BLAS thread (threads only contend, the more so on a busy machine)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads when it loads)

import condense  # noqa: E402

SIZES = [784, 300, 100, 10]


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def init_weights(rng):
    """PyTorch's default initialisation: uniform in +-1/sqrt(fan in), weights [out, in]."""
    weights = {}
    for i in range(3):
        bound = 1.0 / np.sqrt(SIZES[i])
        weights["fc%d.weight" % (i + 1)] = rng.uniform(-bound, bound, (SIZES[i + 1], SIZES[i])).astype(np.float32)
        weights["fc%d.bias" % (i + 1)] = rng.uniform(-bound, bound, SIZES[i + 1]).astype(np.float32)
    return weights


def sgd_step(weights, x, y, lr):
    """One step of softmax cross-entropy SGD; the batch's loss."""
    activations = [x]
    for i in range(1, 4):
        z = activations[-1] @ weights["fc%d.weight" % i].T + weights["fc%d.bias" % i]
        activations.append(np.maximum(z, 0) if i < 3 else z)
    logits = activations[-1]
    logits = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    loss = -np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean()
    grad = probabilities
    grad[np.arange(len(y)), y] -= 1
    grad /= len(y)
    for i in range(3, 0, -1):
        weight = weights["fc%d.weight" % i]
        weight_grad = grad.T @ activations[i - 1]
        bias_grad = grad.sum(axis=0)
        if i > 1:
            grad = (grad @ weight) * (activations[i - 1] > 0)
        weight -= lr * weight_grad
        weights["fc%d.bias" % i] -= lr * bias_grad
    return float(loss)


def accuracy(weights, x, y):
    h = x
    for i in range(1, 4):
        h = h @ weights["fc%d.weight" % i].T + weights["fc%d.bias" % i]
        if i < 3:
            h = np.maximum(h, 0)
    return float((h.argmax(axis=1) == y).mean())


def build_base(path, weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node("Flatten", ["image"], ["x0"], axis=1)]
    for i in range(1, 4):
        nodes.append(helper.make_node("Gemm", ["x%d" % (2 * i - 2), "fc%d.weight" % i, "fc%d.bias" % i], ["x%d" % (2 * i - 1)], transB=1))
        nodes.append(helper.make_node("Relu" if i < 3 else "Identity", ["x%d" % (2 * i - 1)], ["x%d" % (2 * i) if i < 3 else "logits"]))
    graph = helper.make_graph(nodes, "lenet-300-100", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
                              [numpy_helper.from_array(value, name) for name, value in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--base", help="ONNX model of the network (default: built with the onnx package)")
    parser.add_argument("--data", default="../shared/data/mnist-digits", help="folder with images-idx3-ubyte and labels-idx1-ubyte")
    parser.add_argument("--channel", default="mnist-mlp")
    parser.add_argument("--pipeline", default="prune(sparsity=0.5) | quantize(bits=8)")
    parser.add_argument("--gate", default="accuracy>=0.85")
    parser.add_argument("--policy", default="latest", choices=["latest", "every"])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--push-every", type=int, default=100)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the last version after training")
    args = parser.parse_args()

    images = read_idx(os.path.join(args.data, "images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0
    labels = read_idx(os.path.join(args.data, "labels-idx1-ubyte")).astype(np.int64)
    train_x, train_y, held_x, held_y = images[:8000], labels[:8000], images[8000:], labels[8000:]
    rng = np.random.default_rng(args.seed)
    weights = init_weights(rng)

    work = tempfile.mkdtemp(prefix="condense-example-")
    eval_data, eval_labels = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(eval_data, held_x.reshape(-1, 1, 28, 28))
    np.save(eval_labels, held_y)
    base = args.base or os.path.join(work, "base.onnx")
    if not args.base:
        build_base(base, weights)

    client = condense.Client(args.server)
    channel = client.channel(args.channel)
    channel.create(base, args.pipeline, eval_data=eval_data, eval_labels=eval_labels, gate=args.gate, policy=args.policy)

    received = []
    last_pushed = [None]
    done = threading.Event()

    def watch():
        for version in channel.watch(from_version=0):
            received.append(version)
            figures = " ".join("%s=%.4f" % item for item in sorted(version.figures.items()))
            print("  watcher: v%d (step %d) %s %s" % (version.version, version.step, condense.state_name(version.state), figures), flush=True)
            if last_pushed[0] is not None and version.version >= last_pushed[0]:
                break
        done.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    push_ms = []
    step_seconds = []
    for step in range(1, args.steps + 1):
        started = time.perf_counter()
        batch = rng.integers(0, len(train_x), args.batch)
        loss = sgd_step(weights, train_x[batch], train_y[batch], args.lr)
        step_seconds.append(time.perf_counter() - started)
        if step % args.push_every == 0 or step == args.steps:
            pushed = time.perf_counter()
            result = channel.push(weights, step=step)
            push_ms.append((time.perf_counter() - pushed) * 1000)
            print("step %d: loss %.3f, held-out accuracy %.4f, pushed as version %d in %.1f ms" % (
                step, loss, accuracy(weights, held_x, held_y), result.version, push_ms[-1]), flush=True)
    last_pushed[0] = result.version
    if received and received[-1].version >= last_pushed[0]:
        done.set()
    finished = done.wait(args.timeout)
    summary = {
        "channel": args.channel, "pushed": last_pushed[0], "final_accuracy": accuracy(weights, held_x, held_y),
        "push_ms_max": max(push_ms), "mean_step_ms": 1000 * sum(step_seconds) / len(step_seconds),
        "versions": [{"version": v.version, "step": v.step, "state": condense.state_name(v.state), "figures": dict(v.figures)} for v in received],
        "all_received": finished,
    }
    print(json.dumps(summary))
    client.close()
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())

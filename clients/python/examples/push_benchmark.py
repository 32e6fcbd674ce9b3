#!/usr/bin/env python3
"""Benchmark of a training loop's pushes into a channel, with this package as the client (issue 13).

The same three parts as the JVM benchmark (integration-tests, ChannelPushBenchmark), on LeNet-300-100 (266,610 float32
parameters, 1.07 MB as safetensors) with "prune(sparsity=0.5) | quantize(bits=8)" and the latest-wins policy, against a
running server (`./condense serve`), after --warmup pushes (full and delta alternately) into a channel of their own:

1. flat out: --pushes full pushes (every tensor) as fast as the loop can send them: the acknowledgement's p50 / p95 /
   max, pushes per second, what became of the versions and how long after its push the newest was compressed;
2. the same number of delta pushes (fc3 only): bytes sent against the full pushes, acknowledgement latency;
3. paced: --paced full pushes one step-time apart, the step-time being the time to compress one version alone (p50 of
   three): push to compressed of each compressed version in step-times (the issue's goal: the newest within 2).

    python examples/push_benchmark.py --server 127.0.0.1:50051

Each push hands the package numpy arrays, as a training loop does (their conversion to safetensors is timed with the
push). The channels are deleted at the end. Needs the onnx package for the base model (pip install onnx) unless --base
names one (initializers fc1.weight ... fc3.bias, weights [out, in]). Prints a table and one line of JSON.
"""
import argparse
import json
import os
import sys
import time

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

import condense  # noqa: E402
from train_mnist_mlp import build_base, init_weights  # noqa: E402  (the example beside this one)

PIPELINE = "prune(sparsity=0.5) | quantize(bits=8)"


def percentile(values, p):
    """The nearest-rank percentile (as the JVM benchmark's Sample)."""
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(p / 100.0 * len(ordered))) - 1)]


def await_version(channel, last):
    """Waits until version ``last`` has an outcome (versions get theirs in order); that version."""
    for version in channel.watch(from_version=last):
        if version.version >= last:
            return version
    raise RuntimeError("channel %s ended before version %d had an outcome" % (channel.name, last))


def timed_pushes(channel, payloads, first_step):
    """Pushes each payload as fast as possible; the acknowledgement times in ms and the wall time in s."""
    latencies = []
    started = time.perf_counter()
    for i, payload in enumerate(payloads):
        pushed = time.perf_counter()
        channel.push(payload, step=first_step + i)
        latencies.append((time.perf_counter() - pushed) * 1000)
    return latencies, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--base", help="ONNX model of LeNet-300-100 (default: built with the onnx package)")
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--paced", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    if min(args.pushes, args.paced, args.warmup) < 1:
        parser.error("--pushes, --paced and --warmup must be at least 1")

    rng = np.random.default_rng(2)
    full = [init_weights(rng) for _ in range(args.pushes)]
    delta = [{name: weights[name] for name in ("fc3.weight", "fc3.bias")} for weights in full]
    full_bytes, delta_bytes = len(condense.to_safetensors(full[0])), len(condense.to_safetensors(delta[0]))
    base = args.base
    if not base:
        import tempfile
        base = os.path.join(tempfile.mkdtemp(prefix="condense-push-bench-"), "lenet-300-100.onnx")
        build_base(base, full[0])

    client = condense.Client(args.server)
    run = "%x" % int(time.time() * 1000)
    channels = {part: client.channel("%s-%s" % (part, run)) for part in ("warmup", "flat", "delta", "paced")}
    load = os.getloadavg()[0]
    try:
        for channel in channels.values():
            channel.create(base, PIPELINE, policy="latest")

        # warm-up: the connection, both push paths and the compressions, until the server's JIT has compiled them
        warmup = channels["warmup"]
        for i in range(args.warmup):
            warmup.push(full[i % args.pushes] if i % 2 == 0 else delta[i % args.pushes], step=i)
        await_version(warmup, args.warmup)

        full_ms, full_wall = timed_pushes(channels["flat"], full, 0)
        newest = await_version(channels["flat"], args.pushes)
        outcomes = {}
        for version in channels["flat"].status().versions:
            state = condense.state_name(version.state)
            outcomes[state] = outcomes.get(state, 0) + 1

        delta_ms, delta_wall = timed_pushes(channels["delta"], delta, 0)
        await_version(channels["delta"], args.pushes)

        paced = channels["paced"]
        alone = []
        for i in range(3):
            paced.push(full[i], step=i)
            version = await_version(paced, i + 1)
            alone.append(version.finished_at_ms - version.pushed_at_ms)
        step_ms = percentile(alone, 50)
        for i in range(args.paced):
            pushed = time.perf_counter()
            paced.push(full[i % args.pushes], step=3 + i)
            sleep = step_ms / 1000.0 - (time.perf_counter() - pushed)
            if sleep > 0 and i < args.paced - 1:
                time.sleep(sleep)
        await_version(paced, 3 + args.paced)
        versions = [v for v in paced.status().versions if v.version > 3]
        compressed = [v.finished_at_ms - v.pushed_at_ms for v in versions if condense.state_name(v.state) == "COMPRESSED"]
        superseded = sum(1 for v in versions if condense.state_name(v.state) == "SUPERSEDED")
        paced_newest = max(versions, key=lambda v: v.version)
        newest_paced_ms = paced_newest.finished_at_ms - paced_newest.pushed_at_ms
    finally:
        for channel in channels.values():
            try:
                channel.delete()
            except condense.CondenseError:
                pass
        client.close()

    print("Channel push benchmark, Python client, server %s (load %.2f at start, %.2f at end); LeNet-300-100 (%d bytes full, "
          "%d bytes delta [fc3]), pipeline %s, policy latest" % (args.server, load, os.getloadavg()[0],
                                                                 full_bytes, delta_bytes, PIPELINE))
    print("%-44s %6s %8s %8s %8s %10s" % ("", "n", "p50 ms", "p95 ms", "max ms", "pushes/s"))
    for label, values, wall in (("push acknowledged, full (flat out)", full_ms, full_wall), ("push acknowledged, delta (flat out)", delta_ms, delta_wall)):
        print("%-44s %6d %8.2f %8.2f %8.2f %10.1f" % (label, len(values), percentile(values, 50), percentile(values, 95), max(values), len(values) / wall))
    print("bytes sent: full %d per push, %d for %d pushes; delta %d per push, %d for %d pushes (%.0fx fewer)" % (
        full_bytes, full_bytes * args.pushes, args.pushes, delta_bytes, delta_bytes * args.pushes, args.pushes, full_bytes / delta_bytes))
    print("flat out: %s; newest version v%d %s %d ms after its push" % (outcomes, newest.version, condense.state_name(newest.state),
                                                                          newest.finished_at_ms - newest.pushed_at_ms))
    print("paced: step-time %d ms (one version compressed alone, p50 of 3); %d pushes one step apart: %d compressed, %d superseded; "
          "push -> compressed p50 %d ms (%.2f steps), p95 %d ms (%.2f steps); newest v%d %s after %d ms (%.2f steps)" % (
              step_ms, args.paced, len(compressed), superseded, percentile(compressed, 50), percentile(compressed, 50) / step_ms,
              percentile(compressed, 95), percentile(compressed, 95) / step_ms, paced_newest.version,
              condense.state_name(paced_newest.state), newest_paced_ms, newest_paced_ms / step_ms))
    print(json.dumps({
        "full_push_ms": {"p50": percentile(full_ms, 50), "p95": percentile(full_ms, 95), "max": max(full_ms)},
        "delta_push_ms": {"p50": percentile(delta_ms, 50), "p95": percentile(delta_ms, 95), "max": max(delta_ms)},
        "full_pushes_per_s": args.pushes / full_wall, "delta_pushes_per_s": args.pushes / delta_wall,
        "bytes_full": full_bytes, "bytes_delta": delta_bytes, "flat_outcomes": outcomes,
        "flat_newest_ms": newest.finished_at_ms - newest.pushed_at_ms, "step_ms": step_ms,
        "paced_newest_steps": newest_paced_ms / step_ms, "paced_p95_steps": percentile(compressed, 95) / step_ms,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The memory of `./condense serve` (embedded Kafka broker, API and workers in one process): its anonymous memory
# (RssAnon: heap, metaspace, thread stacks, native allocations; not the mapped files) idle 60 s after it is ready,
# 5 s after three MNIST static int8 jobs, and 65 s after them; with the JVM options and environment given:
#   integration-tests/bench/serve-memory.sh LABEL "JAVA_OPTIONS" CALIBRATION.npy ["VAR=VALUE ..."]
# e.g. integration-tests/bench/serve-memory.sh capped "-Xmx512m" /tmp/calib-bench/mnist_calib.npy
#      integration-tests/bench/serve-memory.sh default "" /tmp/calib-bench/mnist_calib.npy
# Uses ports 50740 and 9740 and a temporary data folder; stops the server at the end.
set -uo pipefail
label="$1"; options="$2"; calibration="$3"; environment="${4:-}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="$(mktemp -d)"
log="$data/serve.log"
env $environment CONDENSE_JAVA_OPTS="$options" "$root/condense" serve --grpc-port=50740 --metrics-port=9740 --data "$data/data" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
memory() {
  awk '/^RssAnon/ {anon=$2} /^VmHWM/ {peak=$2} /^Threads/ {threads=$2} END {printf "%.0f MB anonymous, peak RSS %.0f MB, %d threads", anon/1024, peak/1024, threads}' "/proc/$pid/status"
}
for _ in $(seq 180); do grep -q "Condense serving" "$log" && break; sleep 1; done
grep -q "Condense serving" "$log" || { echo "the server did not start; its log:" >&2; cat "$log" >&2; exit 1; }
sleep 60
echo "$label idle (60 s): $(memory)"
for _ in 1 2 3; do
  "$root/condense" compress "$root/../shared/models/pytorch_cnn_mnist.onnx" \
    --pipeline "quantize(activations=true, calibration=minmax, calibration_samples=1000)" --calibration-data "$calibration" \
    -o "$data/out.onnx" --no-evaluation --server 127.0.0.1:50740 >/dev/null 2>&1 || echo "a job failed" >&2
done
sleep 5
echo "$label after 3 jobs (+5 s): $(memory)"
sleep 60
echo "$label after 3 jobs (+65 s): $(memory)"

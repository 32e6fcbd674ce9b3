#!/usr/bin/env bash
# The same --auto search against `condense serve` with 1 and then 3 worker processes; prints each wall time and the ratio.
#
#   integration-tests/bench/search/scaling.sh [MODEL.onnx EVAL_DATA EVAL_LABELS]
#
# Default: ../shared/models/pytorch_cnn_mnist.onnx on the 10,000 shared MNIST digits, "max_drop=0.005, objective=size".
# One API process (with the embedded Kafka broker) and N `--role worker` processes over one data folder; each run uses a
# fresh --request-id so that nothing is resumed. Every process is stopped by its PID at the end.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
model="${1:-$root/../shared/models/pytorch_cnn_mnist.onnx}"
images="${2:-$root/../shared/data/mnist-digits/images-idx3-ubyte}"
labels="${3:-$root/../shared/data/mnist-digits/labels-idx1-ubyte}"
spec="${AUTO_SPEC:-max_drop=0.005, objective=size}"
condense="${CONDENSE:-$root/condense}"
heap="${WORKER_HEAP:--Xmx1500m}"
work="$(mktemp -d /tmp/condense-scaling.XXXXXX)"
pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT

run() {
  local workers="$1" data="$work/data-$1" port=$((52000 + $1))
  CONDENSE_JAVA_OPTS="$heap" "$condense" serve --role api --data "$data" --grpc-port "$port" --metrics-port 0 \
    >"$work/api-$workers.log" 2>&1 &
  pids+=($!)
  until grep -q "Condense ready" "$work/api-$workers.log"; do sleep 1; done
  local kafka
  kafka="$(grep -o 'Kafka 127.0.0.1:[0-9]*' "$work/api-$workers.log" | head -1 | cut -d' ' -f2)"
  for i in $(seq 1 "$workers"); do
    CONDENSE_JAVA_OPTS="$heap" "$condense" serve --role worker --kafka-bootstrap "$kafka" --data "$data" --metrics-port 0 \
      --instance-id "worker-$workers-$i" >"$work/worker-$workers-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$workers"); do
    until grep -q "Condense ready" "$work/worker-$workers-$i.log"; do sleep 1; done
  done
  local started ended
  started=$(date +%s.%N)
  "$condense" compress "$model" --auto "$spec" --budget 30m --eval-data "$images" --eval-labels "$labels" \
    --server "127.0.0.1:$port" --request-id "scaling-$workers-$(date +%s)" -o "$work/best-$workers.onnx" \
    --report "$work/best-$workers.json" >"$work/search-$workers.log" 2>&1
  ended=$(date +%s.%N)
  echo "$workers worker process(es): $(echo "$ended - $started" | bc) s  ($(grep -o 'best: .*' "$work/search-$workers.log"))" >&2
  echo "$ended - $started" | bc
  stop
  pids=()
}

one=$(run 1)
three=$(run 3)
echo "wall time 1 worker: $one s, 3 workers: $three s, ratio $(echo "scale=2; $one / $three" | bc)"
echo "logs and results: $work"

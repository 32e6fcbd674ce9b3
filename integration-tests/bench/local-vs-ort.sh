#!/usr/bin/env bash
# The one-shot local command against ONNX Runtime's Python quantizer on the same model, alternately, RUNS times each
# (default 7), whole processes timed by the shell: the median wall time of each and the median of the pairwise ratios.
#   integration-tests/bench/local-vs-ort.sh [MODEL.onnx] [RUNS]
# Needs a virtual environment with onnxruntime (python3 -m venv .venv-ort && .venv-ort/bin/pip install onnxruntime onnx);
# set ORT_PYTHON to its python (default: python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
model="${1:-$root/../shared/models/pytorch_cnn_mnist.onnx}"
runs="${2:-7}"
python="${ORT_PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

condense=("$root/condense" compress "$model" --pipeline "quantize(bits=8)" --no-evaluation -o "$work/condense.onnx")
ort=("$python" "$root/integration-tests/bench/ort_quantize_dynamic.py" "$model" "$work/ort.onnx")
"${condense[@]}" >/dev/null 2>&1   # builds Condense when needed; also the warm-up
"${ort[@]}" >/dev/null 2>&1

seconds() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "scale=4; ($end - $start) / 1000000000" | bc
}
: > "$work/times"
for _ in $(seq "$runs"); do
  echo "$(seconds "${condense[@]}") $(seconds "${ort[@]}")" >> "$work/times"
done
python3 - "$work/times" "$model" <<'PY'
import statistics, sys
pairs = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
condense = [p[0] for p in pairs]
ort = [p[1] for p in pairs]
ratios = [c / o for c, o in pairs]
print(f"model {sys.argv[2]}, {len(pairs)} runs each, alternating")
print(f"condense compress (local, quantize(bits=8)): median {statistics.median(condense):.2f} s (min {min(condense):.2f}, max {max(condense):.2f})")
print(f"onnxruntime quantize_dynamic (Python):       median {statistics.median(ort):.2f} s (min {min(ort):.2f}, max {max(ort):.2f})")
print(f"ratio condense / onnxruntime: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
PY

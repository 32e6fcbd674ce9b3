#!/usr/bin/env bash
# The CPU time (user + sys) and wall time of `./condense compress --server` runs, and optionally of the same command of
# another checkout (an older build) alternating with it, against one running server:
#   integration-tests/bench/client-cpu.sh HOST:PORT CALIBRATION.npy [RUNS] [OTHER_CHECKOUT]
# HOST:PORT: a running `./condense serve`; CALIBRATION.npy: MNIST calibration inputs (plugins/quantization/bench/
# make_calibration_data.py writes mnist_calib.npy). RUNS (default 9) runs of each, after one warm-up run of each (which also
# writes the class-data archive of a fresh build). Prints the medians and, with OTHER_CHECKOUT, the median of the paired
# ratios this / other. The machine's load average is printed at the end: the CPU time grows with it too.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="$1"; calibration="$2"; runs="${3:-9}"; other="${4:-}"
model="$root/../shared/models/pytorch_cnn_mnist.onnx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() {  # run CHECKOUT LABEL: one command, its times appended to $work/times
  /usr/bin/time -f "$2 %e %U %S" -a -o "$work/times" "$1/condense" compress "$model" \
    --pipeline "quantize(activations=true, calibration=minmax, calibration_samples=1000)" --calibration-data "$calibration" \
    -o "$work/$2.onnx" --no-evaluation --server "$target" >/dev/null 2>"$work/$2.err" || { cat "$work/$2.err" >&2; exit 1; }
}
run "$root" this
[ -z "$other" ] || run "$other" other
: > "$work/times"
for _ in $(seq "$runs"); do
  run "$root" this
  [ -z "$other" ] || run "$other" other
done
python3 - "$work/times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, wall, user, system = line.split()
    runs.setdefault(label, []).append((float(wall), float(user) + float(system)))
for label, times in runs.items():
    print(f"{label}: {len(times)} runs, CPU (user+sys) median {statistics.median(t[1] for t in times):.2f} s "
          f"(min {min(t[1] for t in times):.2f}, max {max(t[1] for t in times):.2f}), wall median {statistics.median(t[0] for t in times):.2f} s")
if "other" in runs:
    ratios = [a[1] / b[1] for a, b in zip(runs["this"], runs["other"])]
    print(f"CPU this / other: median of the paired ratios {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
PY
uptime

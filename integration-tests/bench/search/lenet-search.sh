#!/usr/bin/env bash
# The accuracy-aware search on a Fashion-MNIST classifier, then its result measured on the 10,000 test images.
#
#   integration-tests/bench/search/lenet-search.sh MODEL.onnx OUT_DIR [--train] [more compress options, e.g. --server H:P]
#
# The search sees only the validation split (the last 5,000 training images) and 512 calibration images; with --train also
# the first 55,000 training images. The test split is read only at the end, by ONNX Runtime in Python (/work/venv-ort or
# $ORT_PYTHON). Data: integration-tests/bench/search/fashion_npy.py, written to $FASHION_NPY (default /tmp/fashion-npy).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
python="${ORT_PYTHON:-/work/venv-ort/bin/python}"
condense="${CONDENSE:-$root/condense}"
data="${FASHION_NPY:-/tmp/fashion-npy}"
model="$1"; out="$2"; shift 2
train=()
if [ "${1:-}" = "--train" ]; then
  train=(--train-data "$data/train.npy" --train-labels "$data/train_labels.npy"); shift
fi
[ -f "$data/test.npy" ] || "$python" "$here/fashion_npy.py" "$data"
mkdir -p "$out"
status=0
"$condense" compress "$model" --auto "${AUTO_SPEC:-max_drop=0.005, objective=size}" --budget "${BUDGET:-10m}" \
  --eval-data "$data/val.npy" --eval-labels "$data/val_labels.npy" --calibration-data "$data/calib.npy" "${train[@]}" \
  -o "$out/best.out" --report "$out/best.json" --html "$out/best.html" "$@" || status=$?
echo "search exit code: $status"
[ -f "$out/best.out" ] || exit "$status"
if head -c 4 "$out/best.out" | grep -q CPK; then
  "$condense" decode "$out/best.out" -o "$out/best.onnx" >/dev/null
  echo "best is a packed file of $(stat -c %s "$out/best.out") bytes (decoded to $out/best.onnx for ONNX Runtime)"
else
  cp "$out/best.out" "$out/best.onnx"
fi
"$python" "$here/test_accuracy.py" "$data/test.npy" "$data/test_labels.npy" "$model" "$out/best.onnx"
echo "float $(stat -c %s "$model") bytes / best $(stat -c %s "$out/best.out") bytes = $(echo "scale=2; $(stat -c %s "$model") / $(stat -c %s "$out/best.out")" | bc)x smaller"
exit "$status"

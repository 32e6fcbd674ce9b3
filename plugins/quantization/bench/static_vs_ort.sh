#!/usr/bin/env bash
# Static int8 (QDQ, per-channel int8 weights, uint8 activations) by Condense and by ONNX Runtime's quantize_static on the
# same model, calibration data and method, one after the other, then both results evaluated on held-out inputs.
#
#   static_vs_ort.sh SERVER_PID HOST:PORT DATA_DIR PYTHON [MODELS] [METHODS] [ORT_SAMPLES]
#
# SERVER_PID / HOST:PORT: a running `./condense serve` (for example
#   ./condense serve --grpc-port=50720 --metrics-port=9720, its defaults as a user types it);
# DATA_DIR: what make_calibration_data.py wrote (and make_torchvision_models.py, for resnet18 and mobilenet_v2); PYTHON: a
# virtual environment's python with onnxruntime, onnx, numpy; MODELS: "mnist ultraface" (default; also resnet18,
# mobilenet_v2), METHODS: "minmax entropy percentile" (default); ORT_SAMPLES: calibration samples given to ONNX Runtime
# (default 1000, or all the file has; its entropy and percentile calibrators keep every sample's activations in memory).
# Run from the repository root. Per run it prints the step time (Condense: the job's step line; ONNX Runtime: the
# quantize_static call), the whole command's wall time and peak RSS (/usr/bin/time), and for Condense the server's peak RSS
# and CPU seconds during the command (server_peak.sh). CONDENSE_CLIENT chooses Condense's client: `./condense` (the
# default, the JVM command line) or, for example, "venv/bin/python -m condense" (the Python package's command line);
# CONDENSE_ARGS adds arguments to its compress command (for example --no-upload-cache: the Python command line then sends
# the model and the calibration data even when it sent them to that server before).
set -uo pipefail
pid="$1"; target="$2"; data="$3"; python="$4"
client=(${CONDENSE_CLIENT:-./condense})
extra=(${CONDENSE_ARGS:-})
models="${5:-mnist ultraface}"; methods="${6:-minmax entropy percentile}"; ort_samples="${7:-1000}"
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shared="${CONDENSE_SHARED:-$bench/../../../../shared}"
out="${OUT_DIR:-/tmp/condense-static-vs-ort}"
mkdir -p "$out"
for model in $models; do
  case "$model" in
    mnist) onnx="$shared/models/pytorch_cnn_mnist.onnx"; calib="$data/mnist_calib.npy"; eval_args=("$data/mnist_eval.npy" "$data/mnist_eval_labels.npy") ;;
    ultraface) onnx="$shared/models/ultraface/version-RFB-320.onnx"; calib="$data/ultraface_calib.npy"; eval_args=("$data/ultraface_eval.npy") ;;
    resnet18|mobilenet_v2) onnx="$data/$model.onnx"; calib="$data/imagenet_calib.npy"; eval_args=("$data/imagenet_eval.npy") ;;
    *) echo "unknown model $model" >&2; exit 2 ;;
  esac
  for method in $methods; do
    echo "== $model $method"
    "$bench/server_peak.sh" "$pid" /usr/bin/time -f "condense whole command: %e s wall, %U s user, %S s sys, client peak RSS %M KB" \
      "${client[@]}" compress "$onnx" --pipeline "quantize(activations=true, calibration=$method, calibration_samples=1000)" \
      --calibration-data "$calib" -o "$out/condense_${model}_${method}.onnx" --server "$target" --no-evaluation "${extra[@]}" 2>&1 \
      | grep -E "done in|whole command|server VmHWM"
    /usr/bin/time -f "onnxruntime whole command: %e s wall, %U s user, %S s sys, peak RSS %M KB" \
      "$python" "$bench/ort_quantize_static.py" "$onnx" "$calib" "$method" "$out/ort_${model}_${method}.onnx" "$ort_samples" 2>&1 \
      | grep -E "quantize_static seconds|whole command"
    "$python" "$bench/evaluate.py" "$onnx" "${eval_args[@]}" "$out/condense_${model}_${method}.onnx" "$out/ort_${model}_${method}.onnx" 2>&1 \
      | grep -E "accuracy|SQNR"
  done
done

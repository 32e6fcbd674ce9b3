#!/usr/bin/env bash
# A model over 2 GB through the API as a bundle, in a JVM whose heap is smaller than the model (run by hand).
#
#   integration-tests/bench/bundle-api.sh FOLDER [PAIRS | wide] [HEAP] [PYTHON]
#
# Generates FOLDER/mlp.onnx + mlp.onnx.data (external_matmuls.py: PAIRS x 360.7 MB of float MatMul weights, 9 = 3.25 GB;
# with "wide", FOLDER/wide.onnx: one [8192, 73728] weight of 2.25 GiB, a single tensor over 2 GiB) once, then runs
# `condense compress` (the one-shot command: the server's API, blob store, step runner and plugins in
# the process, over an in-process gRPC channel) with -Xmx HEAP: the model and its data file are uploaded as a bundle,
# quantized to int4 blocks (MatMulNBits) by the worker from the stored files, and the result downloaded as
# FOLDER/out/NAME-int4.onnx + NAME-int4.onnx.data. Prints wall time, peak resident memory (sampled), the peak heap
# occupancy the garbage collector saw (its log), then runs the float model and the result in ONNX Runtime (PYTHON with
# onnxruntime and numpy) on one input and prints how close the outputs are.
# PIPELINE="..." replaces the pipeline (default quantize(bits=4, granularity=block, block=32, format=matmulnbits)).
# EVALUATE=1 keeps the job's final comparison of the float model and the result in ONNX Runtime (generated inputs; the
# evaluator opens a model over 1 GiB from a file with its external data) and prints it from the report; unset:
# --no-evaluation.
# Needs the project built (mvn install -DskipTests) and about 3 x the model's size free in FOLDER and the temporary folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
folder="$(cd "$1" && pwd)"
pairs="${2:-9}"
name=mlp
[ "$pairs" = wide ] && name=wide
heap="${3:-1g}"
python="${4:-python3}"
server="$root/server/service/target"

if [ ! -f "$folder/$name.onnx" ]; then
  "$python" "$root/integration-tests/bench/external_matmuls.py" "$folder/$name.onnx" "$pairs"
fi
model_bytes=$(( $(stat -c %s "$folder/$name.onnx") + $(stat -c %s "$folder/$name.onnx.data") ))
echo "model: $folder/$name.onnx + $name.onnx.data, $model_bytes bytes; heap -Xmx$heap; load average $(cut -d' ' -f1-3 /proc/loadavg)"

evaluation_flag=--no-evaluation
[ -n "${EVALUATE:-}" ] && evaluation_flag=
rm -rf "$folder/out" && mkdir -p "$folder/out"
java -Xmx"$heap" -Xlog:gc:file="$folder/out/gc.log" \
  -Dcondense.plugins.dir="$root/build/plugins" -Djava.io.tmpdir="$folder/out" -cp "$server/condense-server.jar:$server/lib/*" \
  io.condense.server.cli.CondenseCommand compress "$folder/$name.onnx" \
  --pipeline "${PIPELINE:-quantize(bits=4, granularity=block, block=32, format=matmulnbits)}" \
  -o "$folder/out/$name-int4.onnx" --report "$folder/out/report.json" $evaluation_flag > "$folder/out/condense.log" 2>&1 &
pid=$!
started=$(date +%s.%N)
# resident memory sampled every 0.2 s: anonymous (heap, native buffers) and file-backed (memory-mapped tensors: page
# cache the kernel can drop), the peak of each
anon=0; file=0
while kill -0 "$pid" 2>/dev/null; do
  read -r a f < <(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print a+0, f+0}' "/proc/$pid/status" 2>/dev/null || echo "0 0")
  [ "$a" -gt "$anon" ] && anon=$a
  [ "$f" -gt "$file" ] && file=$f
  sleep 0.2
done
wait "$pid"
wall=$(echo "$(date +%s.%N) - $started" | bc)
tail -3 "$folder/out/condense.log"

# G1's log lines end "... 812M->95M(1024M) 12.3ms": the occupancy before each collection, the largest of which is the peak
heap_mb=$(grep -o '[0-9]*M->[0-9]*M' "$folder/out/gc.log" | cut -dM -f1 | sort -n | tail -1)
printf "wall %.1f s (%.1f MB/s of model), peak RSS anonymous %d MB, file-backed %d MB, peak heap before a collection %s MB, model %d MB, output %s bytes\n" \
  "$wall" "$(echo "$model_bytes / 1048576 / $wall" | bc -l)" $((anon / 1024)) $((file / 1024)) "${heap_mb:-0}" $((model_bytes / 1048576)) \
  "$(du -cb "$folder"/out/$name-int4.onnx* | tail -1 | cut -f1)"

if [ -n "${EVALUATE:-}" ]; then
  "$python" -c 'import json, sys; print("job evaluation:", json.dumps(json.load(open(sys.argv[1])).get("evaluation")))' "$folder/out/report.json"
fi

"$python" - "$folder/$name.onnx" "$folder/out/$name-int4.onnx" <<'EOF'
import sys
import numpy as np
import onnxruntime as ort
outputs = []
for path in sys.argv[1:]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal(session.get_inputs()[0].shape, dtype=np.float32)
    outputs.append(session.run(None, {"x": x})[0].ravel())
    print(path, "ops:", sorted({node.op_type for node in __import__("onnx").load(path, load_external_data=False).graph.node}))
    del session
a, b = outputs
print(f"int4 result against float in ONNX Runtime: cosine {a @ b / np.linalg.norm(a) / np.linalg.norm(b):.4f}, "
      f"relative error {np.linalg.norm(a - b) / np.linalg.norm(a):.4f}")
EOF

#!/usr/bin/env bash
# A model over 2 GB through the API as a bundle, in a JVM whose heap is smaller than the model (run by hand).
#
#   integration-tests/bench/bundle-api.sh FOLDER [PAIRS] [HEAP] [PYTHON]
#
# Generates FOLDER/mlp.onnx + mlp.onnx.data (external_matmuls.py: PAIRS x 360.7 MB of float MatMul weights, 9 = 3.25 GB)
# once, then runs `condense compress` (the one-shot command: the server's API, blob store, step runner and plugins in
# the process, over an in-process gRPC channel) with -Xmx HEAP: the model and its data file are uploaded as a bundle,
# quantized to int4 blocks (MatMulNBits) by the worker from the stored files, and the result downloaded as
# FOLDER/out/mlp-int4.onnx + mlp-int4.onnx.data. Prints wall time, peak resident memory (/usr/bin/time), the peak heap
# occupancy the garbage collector saw (its log), then runs the float model and the result in ONNX Runtime (PYTHON with
# onnxruntime and numpy) on one input and prints how close the outputs are.
# Needs the project built (mvn install -DskipTests) and about 3 x the model's size free in FOLDER and the temporary folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
folder="$(cd "$1" && pwd)"
pairs="${2:-9}"
heap="${3:-1g}"
python="${4:-python3}"
server="$root/server/service/target"

if [ ! -f "$folder/mlp.onnx" ]; then
  "$python" "$root/integration-tests/bench/external_matmuls.py" "$folder/mlp.onnx" "$pairs"
fi
model_bytes=$(( $(stat -c %s "$folder/mlp.onnx") + $(stat -c %s "$folder/mlp.onnx.data") ))
echo "model: $folder/mlp.onnx + mlp.onnx.data, $model_bytes bytes; heap -Xmx$heap; load average $(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$folder/out" && mkdir -p "$folder/out"
/usr/bin/time -v -o "$folder/out/time.txt" java -Xmx"$heap" -Xlog:gc:file="$folder/out/gc.log" \
  -Dcondense.plugins.dir="$root/build/plugins" -Djava.io.tmpdir="$folder/out" -cp "$server/condense-server.jar:$server/lib/*" \
  io.condense.server.cli.CondenseCommand compress "$folder/mlp.onnx" \
  --pipeline "quantize(bits=4, granularity=block, block=32, format=matmulnbits)" \
  -o "$folder/out/mlp-int4.onnx" --report "$folder/out/report.json" --no-evaluation | tail -3

wall=$(grep "Elapsed (wall clock)" "$folder/out/time.txt" | awk '{print $NF}')
rss_kb=$(grep "Maximum resident set size" "$folder/out/time.txt" | awk '{print $NF}')
# G1's log lines end "... 812M->95M(1024M) 12.3ms": the occupancy before each collection, the largest of which is the peak
heap_mb=$(grep -o '[0-9]*M->[0-9]*M' "$folder/out/gc.log" | cut -dM -f1 | sort -n | tail -1)
echo "wall $wall, peak RSS $((rss_kb / 1024)) MB, peak heap before a collection ${heap_mb:-0} MB, model $((model_bytes / 1048576)) MB," \
  "output $(du -cb "$folder"/out/mlp-int4.onnx* | tail -1 | cut -f1) bytes"

"$python" - "$folder/mlp.onnx" "$folder/out/mlp-int4.onnx" <<'EOF'
import sys
import numpy as np
import onnxruntime as ort
x = np.random.default_rng(1).standard_normal((1, 8, 4096), dtype=np.float32)
outputs = []
for path in sys.argv[1:]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs.append(session.run(None, {"x": x})[0].ravel())
    print(path, "ops:", sorted({node.op_type for node in __import__("onnx").load(path, load_external_data=False).graph.node}))
    del session
a, b = outputs
print(f"int4 result against float in ONNX Runtime: cosine {a @ b / np.linalg.norm(a) / np.linalg.norm(b):.4f}, "
      f"relative error {np.linalg.norm(a - b) / np.linalg.norm(a):.4f}")
EOF

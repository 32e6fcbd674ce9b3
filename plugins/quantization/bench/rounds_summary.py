"""Medians of repeated static_vs_ort.sh runs, one line per label: the whole commands' wall times (Condense / ONNX Runtime),
the median and range of each pair's speed-up (ONNX Runtime's time / Condense's), the step times, the server's peak memory
and ONNX Runtime's peak RSS. Each run's output is preceded by a line "### LABEL" (the loop writes it), for example

    for i in $(seq 11); do for m in minmax entropy percentile; do for a in --no-upload-cache ""; do
      echo "### $m ${a:-cached}"
      CONDENSE_ARGS="$a" CONDENSE_CLIENT="venv/bin/python -m condense" plugins/quantization/bench/static_vs_ort.sh \\
          SERVER_PID 127.0.0.1:50731 /tmp/calib-bench /tmp/ortvenv/bin/python mnist $m
    done; done; done > rounds.log
    python3 plugins/quantization/bench/rounds_summary.py rounds.log
"""
import re
import statistics
import sys


def main(path):
    rows = {}
    for block in open(path).read().split("### ")[1:]:
        label = block.split("\n")[0].strip()
        condense = re.search(r"condense whole command: ([\d.]+) s wall", block)
        ort = re.search(r"onnxruntime whole command: ([\d.]+) s wall, .* peak RSS (\d+) KB", block)
        step = re.search(r"done in (\d+) ms", block)
        ort_step = re.search(r"quantize_static seconds ([\d.]+)", block)
        server = re.search(r"server VmHWM: (\d+) kB", block)
        if not (condense and ort and step and ort_step and server):
            continue
        row = rows.setdefault(label, {"c": [], "o": [], "speedup": [], "step": [], "ort_step": [], "server": [], "ort_rss": []})
        row["c"].append(float(condense.group(1)))
        row["o"].append(float(ort.group(1)))
        row["speedup"].append(float(ort.group(1)) / float(condense.group(1)))
        row["step"].append(int(step.group(1)))
        row["ort_step"].append(float(ort_step.group(1)) * 1000)
        row["server"].append(int(server.group(1)) / 1024)
        row["ort_rss"].append(int(ort.group(2)) / 1024)
    median = statistics.median
    for label, row in rows.items():
        print("%s (%d runs): whole command %.2f / %.2f s, speed-up %.2fx (pairs %.2f-%.2f); step %d / %d ms (%.1fx); "
              "server VmHWM %d-%d MB, ONNX Runtime peak RSS %d-%d MB" % (
                  label, len(row["c"]), median(row["c"]), median(row["o"]), median(row["speedup"]), min(row["speedup"]),
                  max(row["speedup"]), median(row["step"]), median(row["ort_step"]), median(row["ort_step"]) / median(row["step"]),
                  min(row["server"]), max(row["server"]), min(row["ort_rss"]), max(row["ort_rss"])))


if __name__ == "__main__":
    main(sys.argv[1])

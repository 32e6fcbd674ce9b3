#!/usr/bin/env bash
# Runs one command against a running `./condense serve` and prints what the server spent during it: its peak resident
# memory (VmHWM, reset first with `echo 5 > /proc/PID/clear_refs`, Linux 4.0+) and its CPU seconds (user + system).
#   server_peak.sh SERVER_PID COMMAND [ARG ...]
set -euo pipefail
pid="$1"
shift
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
echo 5 > "/proc/$pid/clear_refs"
before=$(cpu)
"$@"
after=$(cpu)
echo "server VmHWM: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status"), server CPU: $(awk -v a="$after" -v b="$before" -v t="$ticks" 'BEGIN {printf "%.2f s", (a - b) / t}')"

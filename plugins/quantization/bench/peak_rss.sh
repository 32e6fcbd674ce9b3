#!/usr/bin/env bash
# Runs COMMAND and samples, every 0.1 s while it runs, the resident memory of one process: the command itself or the
# process it runs (PID "-": the largest of the command and its children, so `/usr/bin/time python ...` counts python) or
# another one (a running `./condense serve`). Prints the peaks of RssAnon (heap, native buffers: what the process
# needs) and of RssFile (file pages it has mapped, such as a memory-mapped .npy: clean page cache the kernel can drop).
#   peak_rss.sh PID|- COMMAND [ARG ...]
set -uo pipefail
watch="$1"
shift
"$@" &
child=$!
anon=0
file=0
while kill -0 "$child" 2>/dev/null; do
  if [ "$watch" = - ]; then pids="$child $(pgrep -P "$child" | tr '\n' ' ')"; else pids=$watch; fi
  for p in $pids; do
    read -r a f < <(awk '/RssAnon/ {a = $2} /RssFile/ {f = $2} END {print a + 0, f + 0}' "/proc/$p/status" 2>/dev/null || echo "0 0")
    [ "${a:-0}" -gt "$anon" ] && anon=$a
    [ "${f:-0}" -gt "$file" ] && file=$f
  done
  sleep 0.1
done
wait "$child"
status=$?
echo "peak RssAnon $((anon / 1024)) MB, peak RssFile $((file / 1024)) MB (sampled every 0.1 s)"
exit $status

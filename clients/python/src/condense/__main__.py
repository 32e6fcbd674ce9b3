"""The package's command line: ``python -m condense compress MODEL --pipeline "..." -o OUT --server HOST:PORT``.

A thin client of a running server, as ``./condense compress --server`` is, without a JVM to start: it uploads the model
and data, submits the job, prints each step as it runs and the report's figures, and writes the result.
"""
import argparse
import json
import os
import sys
import time

from condense.client import Client, CondenseError


def _figures(report):
    """The report's headline figures as (name, value) pairs: size, ratio and the evaluation's numbers."""
    from google.protobuf.json_format import MessageToDict
    document = MessageToDict(report)
    shown = [(name, document[name]) for name in ("original_bytes", "compressed_bytes", "ratio") if name in document]
    for name, value in sorted(document.get("evaluation", {}).items()):
        if isinstance(value, (int, float)):
            shown.append((name, value))
    return document, shown


def compress(args):
    def on_event(event):
        kind = event.WhichOneof("event")
        if kind == "step_started":
            step = event.step_started
            print("[step %d] %s started" % (step.step, step.technique), file=sys.stderr, flush=True)
        elif kind == "step_completed":
            step = event.step_completed.result
            print("[step %d] %s done in %d ms" % (step.step, step.technique, step.duration_ms), file=sys.stderr, flush=True)

    def on_reuse(path, blob_id):
        print("Not sending %s: sent to this server before and unchanged since (blob %s; --no-upload-cache sends it)"
              % (path, blob_id[:12]), file=sys.stderr, flush=True)

    started = time.perf_counter()
    with Client(args.server, token=args.token or os.environ.get("CONDENSE_TOKEN"), tls_ca=args.tls_ca,
                upload_cache=not args.no_upload_cache) as client:
        job = client.compress(args.model, args.pipeline, output=args.output, eval_data=args.eval_data, eval_labels=args.eval_labels,
                              calibration_data=args.calibration_data, skip_evaluation=args.no_evaluation, train_data=args.train_data,
                              train_labels=args.train_labels, request_id=args.request_id, on_event=on_event,
                              on_reuse=on_reuse)
    document, shown = _figures(job.report)
    print("Job %s completed in %.2f s" % (job.job_id, time.perf_counter() - started))
    for name, value in shown:
        print("  %-20s %s" % (name, ("%.4f" % value) if isinstance(value, float) and not float(value).is_integer() else int(value)))
    if args.report:
        with open(args.report, "w") as f:
            json.dump(document, f, indent=2)
    if args.output:
        print("Wrote %s (%d bytes)" % (args.output, os.path.getsize(args.output)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m condense", description="Client of a Condense server.")
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("compress", help="compress a model on a server with a pipeline")
    c.add_argument("model", help="the ONNX model (a model with external data goes with its data files)")
    c.add_argument("--pipeline", required=True, help='steps, for example "prune(sparsity=0.5) | quantize(bits=8)"')
    c.add_argument("-o", "--output", help="where to write the compressed model")
    c.add_argument("--server", default="127.0.0.1:50051", help="HOST:PORT of the server (default 127.0.0.1:50051)")
    c.add_argument("--eval-data", help="evaluation inputs (.npy, .npz or IDX)")
    c.add_argument("--eval-labels", help="class labels of the evaluation inputs")
    c.add_argument("--calibration-data", help="calibration inputs for techniques that use them")
    c.add_argument("--train-data", help="training inputs for techniques that train")
    c.add_argument("--train-labels", help="integer class labels of the training inputs")
    c.add_argument("--no-evaluation", action="store_true", help="skip the evaluation in ONNX Runtime at the end of the job")
    c.add_argument("--report", help="where to write the job's report (JSON)")
    c.add_argument("--no-upload-cache", action="store_true",
                   help="send every file even when it was sent to this server before and has not changed since")
    c.add_argument("--request-id", help="client request id: a retried command with the same id answers the same job")
    c.add_argument("--token", help="bearer token (default: the CONDENSE_TOKEN environment variable)")
    c.add_argument("--tls-ca", help="speak TLS, trusting server certificates signed by this CA (PEM)")
    args = parser.parse_args(argv)
    try:
        return compress(args)
    except CondenseError as e:
        print("condense: %s" % e, file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        # a file that cannot be read, a pipeline that does not parse
        print("condense: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A Condense client in Python: upload a model, submit a pipeline, follow the job, download the result.

It needs Debian's python3-grpcio and python3-protobuf (so run it with /usr/bin/python3) and protoc from
protobuf-compiler with the well-known types from libprotobuf-dev. The message classes are generated from
the API's .proto into a temporary folder on every run (nothing generated is kept); the service is called
through grpc's generic multi-callables, so no gRPC code generator plugin is needed.

    /usr/bin/python3 condense_client.py --server 127.0.0.1:50051 --proto-dir ../../../proto/src/main/proto \\
        --model model.onnx --step prune sparsity=0.5 --step quantize bits=8 --output small.onnx

On success it prints one line of JSON (job id, state, sizes, event kinds) and exits 0. It exits 1 when the
job fails or is cancelled (the JSON line then carries the server's error), 2 on bad arguments, 3 when a
call fails (the gRPC status code and the server's message on stderr), and 4 when something it needs is
not installed (what to install on stderr). `--check` only checks that everything it needs is there.
"""

import argparse
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

CHUNK_BYTES = 1024 * 1024
SERVICE = "/condense.v1.CompressionService/"
PROTO_FILE = "condense/v1/compression_service.proto"
FINAL_EVENTS = ("completed", "failed", "cancelled")

EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_CALL_FAILED = 3
EXIT_MISSING = 4


class Missing(Exception):
    """Something this client needs is not installed."""


class CallFailed(Exception):
    """A gRPC call failed; carries the status code name and the server's message."""

    def __init__(self, method, error):
        code = error.code().name if hasattr(error, "code") and error.code() is not None else "UNKNOWN"
        details = error.details() if hasattr(error, "details") else str(error)
        super().__init__(f"{method} failed: {code}: {details}")
        self.code = code
        self.details = details


def check_python_packages():
    missing = []
    for module, package in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf")):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise Missing(f"{sys.executable} cannot import {', '.join(missing)}: install them with "
                      f"'apt-get install {' '.join(missing)}' and run this client with /usr/bin/python3 "
                      f"(Debian's Python packages import only there)")


def find_protoc(protoc):
    path = shutil.which(protoc)
    if path is None:
        raise Missing(f"protoc ('{protoc}') is not on the PATH: install it with 'apt-get install protobuf-compiler libprotobuf-dev'")
    return path


def generate_messages(protoc, proto_dir, out_dir):
    """Runs protoc --python_out for the API's .proto into out_dir and imports the generated module."""
    proto = os.path.join(proto_dir, PROTO_FILE)
    if not os.path.isfile(proto):
        raise Missing(f"no {PROTO_FILE} under --proto-dir {proto_dir}")
    # protoc looks for google/protobuf/*.proto next to itself (../include); say so clearly if it cannot.
    command = [protoc, f"--proto_path={proto_dir}", f"--python_out={out_dir}", PROTO_FILE]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        hint = ""
        if "google/protobuf/struct.proto" in result.stderr:
            hint = " (the well-known types are missing: 'apt-get install libprotobuf-dev')"
        raise Missing(f"protoc failed{hint}: {result.stderr.strip()}")
    sys.path.insert(0, out_dir)
    return importlib.import_module("condense.v1.compression_service_pb2")


def parse_steps(step_arguments):
    steps = []
    for arguments in step_arguments:
        technique, parameters = arguments[0], {}
        for pair in arguments[1:]:
            key, equals, value = pair.partition("=")
            if not equals or not key:
                raise ValueError(f"parameter '{pair}' of step {len(steps) + 1} ({technique}) is not KEY=VALUE")
            parameters[key] = value
        steps.append((technique, parameters))
    return steps


class CondenseClient:
    """The service's calls, made with grpc's generic multi-callables and the generated message classes."""

    def __init__(self, channel, messages, timeout_seconds):
        self.messages = messages
        self.timeout = timeout_seconds
        serialize = lambda message: message.SerializeToString()
        self.upload_call = channel.stream_unary(SERVICE + "UploadModel", request_serializer=serialize,
                                                response_deserializer=messages.UploadResult.FromString)
        self.submit_call = channel.unary_unary(SERVICE + "Submit", request_serializer=serialize,
                                               response_deserializer=messages.SubmitResponse.FromString)
        self.get_job_call = channel.unary_unary(SERVICE + "GetJob", request_serializer=serialize,
                                                response_deserializer=messages.Job.FromString)
        self.watch_call = channel.unary_stream(SERVICE + "WatchJob", request_serializer=serialize,
                                               response_deserializer=messages.JobEvent.FromString)
        self.download_call = channel.unary_stream(SERVICE + "Download", request_serializer=serialize,
                                                  response_deserializer=messages.DownloadChunk.FromString)

    def upload(self, path):
        # opened before the call, so that a file that cannot be read is reported as such, not as a failed call
        with open(path, "rb") as model:
            def chunks():
                while True:
                    data = model.read(CHUNK_BYTES)
                    if not data:
                        return
                    yield self.messages.UploadChunk(data=data)
            return self._call("UploadModel", lambda: self.upload_call(chunks(), timeout=self.timeout))

    def submit(self, model_id, steps, client_request_id):
        request = self.messages.SubmitRequest(model_id=model_id, client_request_id=client_request_id)
        for technique, parameters in steps:
            request.steps.add(technique=technique, parameters=parameters)
        return self._call("Submit", lambda: self.submit_call(request, timeout=self.timeout))

    def job(self, job_id):
        return self._call("GetJob", lambda: self.get_job_call(self.messages.GetJobRequest(job_id=job_id), timeout=self.timeout))

    def watch(self, job_id):
        """Every event of the job up to and including the final one."""
        def follow():
            events = []
            for event in self.watch_call(self.messages.WatchJobRequest(job_id=job_id), timeout=self.timeout):
                events.append(event)
                if event.WhichOneof("event") in FINAL_EVENTS:
                    break
            return events
        return self._call("WatchJob", follow)

    def download(self, job_id, output):
        """Streams the job's result into output (through a temporary file, then a rename); answers its size and SHA-256."""
        def fetch():
            folder = os.path.dirname(os.path.abspath(output))
            digest, size, total = hashlib.sha256(), 0, None
            handle, partial = tempfile.mkstemp(prefix=".download-", dir=folder)
            try:
                with os.fdopen(handle, "wb") as file:
                    for chunk in self.download_call(self.messages.DownloadRequest(job_id=job_id), timeout=self.timeout):
                        if total is None:
                            total = chunk.total_size
                        file.write(chunk.data)
                        digest.update(chunk.data)
                        size += len(chunk.data)
                if total is not None and total != size:
                    raise RuntimeError(f"Download of job {job_id} ended after {size} of {total} bytes")
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(partial, 0o666 & ~umask)
                os.replace(partial, output)
            except BaseException:
                if os.path.exists(partial):
                    os.remove(partial)
                raise
            return size, digest.hexdigest()
        return self._call("Download", fetch)

    @staticmethod
    def _call(method, action):
        import grpc
        try:
            return action()
        except grpc.RpcError as error:
            raise CallFailed(method, error) from None


def event_kind(event):
    kind = event.WhichOneof("event") or "unknown"
    if kind in ("step_started", "step_completed", "step_retry", "progress"):
        step = event.step_completed.result.step if kind == "step_completed" else getattr(event, kind).step
        return f"{kind.upper()} {step}"
    return kind.upper()


def read_file(path):
    with open(path, "rb") as file:
        return file.read()


def open_channel(grpc, arguments, options):
    """Plaintext, TLS (--tls-ca), mutual TLS (--tls-cert, --tls-key) and a bearer token (--token or CONDENSE_TOKEN)."""
    credentials = None
    if arguments.tls_ca:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read_file(arguments.tls_ca),
            private_key=read_file(arguments.tls_key) if arguments.tls_key else None,
            certificate_chain=read_file(arguments.tls_cert) if arguments.tls_cert else None)
    if arguments.token:
        # call credentials need a secure channel: TLS, or a local TCP connection (a server on loopback)
        transport = credentials or grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        credentials = grpc.composite_channel_credentials(transport, grpc.access_token_call_credentials(arguments.token))
    if credentials is None:
        return grpc.insecure_channel(arguments.server, options=options)
    return grpc.secure_channel(arguments.server, credentials, options=options)


def run(arguments):
    check_python_packages()
    protoc = find_protoc(arguments.protoc)
    import grpc

    steps = parse_steps(arguments.step)
    if not arguments.check and not os.path.isfile(arguments.model):
        raise ValueError(f"no model file {arguments.model} (from {os.getcwd()})")
    with tempfile.TemporaryDirectory(prefix="condense-python-stubs-") as generated:
        messages = generate_messages(protoc, arguments.proto_dir, generated)
        if arguments.check:
            print(json.dumps({"client": "python", "check": "ok", "grpc": grpc.__version__, "protoc": protoc}))
            return 0
        options = [("grpc.max_receive_message_length", 8 * CHUNK_BYTES)]
        with open_channel(grpc, arguments, options) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=arguments.timeout)
            except grpc.FutureTimeoutError:
                raise CallFailed("connect", _Unavailable(f"no server answered at {arguments.server} within {arguments.timeout} s")) from None
            client = CondenseClient(channel, messages, arguments.timeout)
            started = time.monotonic()
            uploaded = client.upload(arguments.model)
            submitted = client.submit(uploaded.blob_id, steps, arguments.client_request_id or str(uuid.uuid4()))
            events = client.watch(submitted.job_id)
            job = client.job(submitted.job_id)
            state = messages.JobState.Name(job.state)
            summary = {
                "client": "python",
                "job_id": submitted.job_id,
                "state": state,
                "model_id": uploaded.blob_id,
                "input_bytes": uploaded.size,
                "steps": [technique for technique, _ in steps],
                "events": [event_kind(event) for event in events if event.WhichOneof("event") != "progress"],
            }
            if job.state != messages.JOB_STATE_COMPLETED:
                if job.HasField("error"):
                    summary["error"] = {"step": job.error.step, "technique": job.error.technique,
                                        "code": job.error.code, "message": job.error.message}
                print(json.dumps(summary), flush=True)
                print(f"Job {submitted.job_id} ended {state}: {summary.get('error', {}).get('message', 'no error given')}", file=sys.stderr)
                return EXIT_JOB_FAILED
            size, sha256 = client.download(submitted.job_id, arguments.output)
            if sha256 != job.result_model_id:
                raise RuntimeError(f"the downloaded bytes hash to {sha256}, the job's result is {job.result_model_id}")
            summary.update({
                "result_model_id": job.result_model_id,
                "output_bytes": size,
                "output": os.path.abspath(arguments.output),
                "seconds": round(time.monotonic() - started, 3),
            })
            print(json.dumps(summary), flush=True)
            return 0


class _Unavailable:
    """Stands in for a grpc.RpcError when the channel never becomes ready."""

    def __init__(self, message):
        self.message = message

    def code(self):
        import grpc
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return self.message


def main(argv=None):
    parser = argparse.ArgumentParser(description="Compress a model with a Condense server.")
    parser.add_argument("--server", default="127.0.0.1:50051", help="HOST:PORT of the gRPC API (default: %(default)s)")
    parser.add_argument("--proto-dir", required=True, help="folder holding condense/v1/compression_service.proto")
    parser.add_argument("--protoc", default="protoc", help="the protoc to run (default: %(default)s)")
    parser.add_argument("--model", help="the ONNX model to compress")
    parser.add_argument("--step", nargs="+", action="append", metavar=("TECHNIQUE", "KEY=VALUE"),
                        help="a pipeline step, repeatable: --step prune sparsity=0.5 --step quantize bits=8")
    parser.add_argument("--output", help="where to write the compressed model")
    parser.add_argument("--client-request-id", help="makes a retried run answer the same job (default: a new UUID)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for each call (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only check that grpc, protobuf and protoc are there")
    parser.add_argument("--tls-ca", help="speak TLS, trusting server certificates signed by this CA (PEM)")
    parser.add_argument("--tls-cert", help="this client's certificate chain for mutual TLS (PEM; needs --tls-key and --tls-ca)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--token", default=os.environ.get("CONDENSE_TOKEN"),
                        help="bearer token for servers that ask for one (default: the CONDENSE_TOKEN environment variable)")
    arguments = parser.parse_args(argv)
    if not arguments.check and not (arguments.model and arguments.step and arguments.output):
        parser.error("--model, --step and --output are needed (or --check)")
    if bool(arguments.tls_cert) != bool(arguments.tls_key) or (arguments.tls_cert and not arguments.tls_ca):
        parser.error("--tls-cert and --tls-key go together, and need --tls-ca")
    arguments.step = arguments.step or []
    try:
        return run(arguments)
    except Missing as error:
        print(f"condense_client.py: {error}", file=sys.stderr)
        return EXIT_MISSING
    except ValueError as error:
        print(f"condense_client.py: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CallFailed as error:
        print(f"condense_client.py: {error}", file=sys.stderr)
        return EXIT_CALL_FAILED
    except (OSError, RuntimeError) as error:
        print(f"condense_client.py: {error}", file=sys.stderr)
        return EXIT_CALL_FAILED


if __name__ == "__main__":
    sys.exit(main())

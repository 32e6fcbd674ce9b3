"""Client: a connection to a Condense server, with compress() for one-shot jobs and channel() for training loops."""
import os

import grpc

from condense.pipeline import parse_pipeline
from condense.v1 import compression_service_pb2 as pb

CHUNK_BYTES = 1 << 20
_SERVICE = "/condense.v1.CompressionService/"


class CondenseError(Exception):
    """A call the server refused or a job that did not complete; ``code`` is the gRPC status code name or the job's error code."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def state_name(state):
    """A channel version's state without its prefix: VERSION_STATE_COMPRESSED (3) -> "COMPRESSED"."""
    from condense.v1 import channel_service_pb2 as channels
    return channels.VersionState.Name(state)[len("VERSION_STATE_"):]


def job_state_name(state):
    """A job's state without its prefix: JOB_STATE_COMPLETED (3) -> "COMPLETED"."""
    return pb.JobState.Name(state)[len("JOB_STATE_"):]


class PendingUpload:
    """An upload under way: ``result()`` waits for it and answers the blob id (CondenseError when the server refused it);
    ``cancel()`` stops it if it has not ended."""

    def __init__(self, future):
        self._future = future

    def result(self):
        try:
            return self._future.result().blob_id
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None

    def cancel(self):
        self._future.cancel()


# Upload requests are written in protobuf's wire format here rather than built as messages: with the upb runtime a
# message takes a copy of its bytes field and serialising it another, 0.75 s of the client's CPU for a 921 MB file against
# 0.1 s to read it (plugins/quantization/README.md, "Seventeenth session"). A field written by hand costs one copy, the
# concatenation. The stubs of these calls pass bytes through unchanged (_serialize) and serialise anything else.

def _varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes_field(number, data, prefix=b"", suffix=b""):
    """Field ``number`` (length-delimited) of a message holding ``prefix + data + suffix``: already encoded fields around a
    payload, with one copy of the payload."""
    # join sizes the result first and copies each part once (a chain of + would copy the payload again for the suffix)
    return b"".join((_varint(number << 3 | 2), _varint(len(prefix) + len(data) + len(suffix)), prefix, data, suffix))


def upload_chunk(data):
    """An UploadChunk{data} in wire format."""
    return _bytes_field(1, data)


def _serialize(request):
    return request if isinstance(request, bytes) else request.SerializeToString()


def _file_chunks(f, message):
    """The requests of an open file's upload, one per chunk: message(data, offset); closes the file at the end."""
    with f:
        offset = 0
        while True:
            data = f.read(CHUNK_BYTES)
            if not data:
                return
            yield message(data, offset)
            offset += len(data)


def _fingerprint(token):
    import hashlib
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _import_while_waiting():
    """Imports what the download and the report need on a helper thread: this process only waits while the server runs
    the job (the wait releases the interpreter lock), so the imports cost the command nothing when they end first."""
    import threading

    def load():
        import hashlib  # noqa: F401
        import tempfile  # noqa: F401

        import google_crc32c  # noqa: F401
        from google.protobuf import json_format  # noqa: F401
    threading.Thread(target=load, name="condense-imports", daemon=True).start()


class Client:
    """A connection to a Condense server (``./condense serve``): host:port, optionally TLS (a CA file) and a bearer token."""

    def __init__(self, server="127.0.0.1:50051", token=None, tls_ca=None, timeout=300.0, upload_cache=True):
        """``upload_cache``: remember the blob ids of uploaded files so that ``compress`` does not send an unchanged file to
        this server again (False: always send; a condense.uploads.UploadCache: that one)."""
        self.timeout = timeout
        if upload_cache is True:
            from condense.uploads import UploadCache
            # the ids of one server and one caller: another token may be another tenant, whose blobs these are not
            upload_cache = UploadCache(server if not token else server + " " + _fingerprint(token))
        self._uploads = upload_cache or None
        options = [("grpc.max_receive_message_length", 4 * CHUNK_BYTES)]
        if tls_ca:
            with open(tls_ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            if token:
                credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
            self._channel = grpc.secure_channel(server, credentials, options)
        else:
            self._channel = grpc.insecure_channel(server, options)
            if token:
                # grpcio sends call credentials only over TLS; on a plain (loopback) channel the header goes as metadata
                self._metadata = (("authorization", "Bearer " + token),)
        self._metadata = getattr(self, "_metadata", None)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls -------------------------------------------------------------------------------------------------------

    def _call(self, kind, method, request_type, response_type, serializer=None):
        return getattr(self._channel, kind)(method, request_serializer=serializer or request_type.SerializeToString,
                                            response_deserializer=response_type.FromString)

    def _invoke(self, stub, request, stream=False):
        try:
            if stream:
                return stub(request, timeout=None, metadata=self._metadata)
            return stub(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None

    def upload(self, path_or_bytes):
        """Streams a file (or bytes) in 1 MiB chunks; the blob id the server answers."""
        return self.start_upload(path_or_bytes).result()

    def start_upload(self, path_or_bytes):
        """Starts streaming a file (or bytes) in 1 MiB chunks and answers at once: a PendingUpload whose ``result()`` is the
        blob id. Several uploads started one after the other go at the same time over the one connection. A file that
        cannot be opened raises OSError here, before anything is sent."""
        if isinstance(path_or_bytes, (bytes, bytearray)):
            data = memoryview(path_or_bytes)
            requests = (upload_chunk(data[start:start + CHUNK_BYTES]) for start in range(0, max(len(data), 1), CHUNK_BYTES))
        else:
            requests = _file_chunks(open(path_or_bytes, "rb"), lambda chunk, offset: upload_chunk(chunk))
        return self.start_stream_upload("UploadModel", pb.UploadChunk, requests)

    def start_stream_upload(self, method, request_type, requests):
        """Starts a client-streaming upload call of the service with these requests (messages of ``request_type``, or their
        wire format as bytes); a PendingUpload."""
        stub = self._call("stream_unary", _SERVICE + method, request_type, pb.UploadResult, _serialize)
        return PendingUpload(stub.future(requests, timeout=self.timeout, metadata=self._metadata))

    def upload_model(self, path_or_bytes):
        """Uploads a model: a file naming external data files (``big.onnx`` with ``big.onnx.data`` beside it) as a bundle
        with those files (UploadBundle), any other file or bytes as one blob (UploadModel); the blob id."""
        return self.start_model_upload(path_or_bytes).result()

    def start_model_upload(self, path_or_bytes):
        """``upload_model`` started and not waited for: a PendingUpload."""
        from condense.bundle import data_files, start_bundle_upload
        if not isinstance(path_or_bytes, (bytes, bytearray)) and data_files(path_or_bytes):
            return start_bundle_upload(self, path_or_bytes)
        return self.start_upload(path_or_bytes)

    def download_bundle(self, path, job_id=None, blob_id=None):
        """Writes a job's result (or a stored model) with its data files: the model to ``path``, its data files beside it as
        ``<path>.data`` (the model rewritten to name them so), every file checked against the header's size and SHA-256
        before it replaces anything; the paths written."""
        from condense.bundle import receive_bundle
        if bool(job_id) == bool(blob_id):
            raise ValueError("give one of job_id and blob_id")
        stub = self._call("unary_stream", _SERVICE + "DownloadBundle", pb.DownloadRequest, pb.BundleChunk)
        try:
            request = pb.DownloadRequest(job_id=job_id) if job_id else pb.DownloadRequest(blob_id=blob_id)
            return receive_bundle(self._invoke(stub, request, stream=True), path)
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None

    def job(self, job_id):
        return self._invoke(self._call("unary_unary", _SERVICE + "GetJob", pb.GetJobRequest, pb.Job), pb.GetJobRequest(job_id=job_id))

    def download(self, request, path):
        """Writes a download stream to a file (beside it first, then renamed); the bytes written."""
        stub = self._call("unary_stream", request[0], request[1].__class__, pb.DownloadChunk)
        import tempfile
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path), suffix=".part")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self._invoke(stub, request[1], stream=True):
                    out.write(chunk.data)
                    written += len(chunk.data)
            os.replace(temporary, path)
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return written

    def compress(self, model, pipeline, output=None, eval_data=None, eval_labels=None, calibration_data=None, skip_evaluation=False,
                 train_data=None, train_labels=None, request_id=None, on_event=None, on_reuse=None):
        """Compresses a model file with a pipeline (text as the command line writes it, or [(technique, {param: value})]),
        waits for the job, writes the result to ``output`` when given and answers the job (its report included). A model
        with external data goes with its data files as a bundle, and its result comes back with its data file beside
        ``output`` (``download_bundle``). ``on_event`` is called with each JobEvent as the job goes (step started,
        progress, step completed); ``on_reuse(file, blob_id)`` with each file not sent because this server holds it already
        (sent before and unchanged since).
        CondenseError when the server refuses it or the job does not complete."""
        steps = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
        request = pb.SubmitRequest(skip_evaluation=skip_evaluation)
        for technique, parameters in steps:
            request.steps.add(technique=technique, parameters={k: str(v) for k, v in parameters.items()})
        # the model and every data file go at once (each its own call on the one connection); a file sent before and not
        # changed since is not sent again (its remembered blob id; see condense/uploads.py)
        files = [("model_id", model), ("evaluation_data_id", eval_data), ("evaluation_labels_id", eval_labels),
                 ("calibration_data_id", calibration_data), ("train_data_id", train_data), ("train_labels_id", train_labels)]
        reused = self._send([(field, source) for field, source in files if source], request)
        for _, source, blob_id in reused:
            if on_reuse:
                on_reuse(source, blob_id)
        if request_id:
            request.client_request_id = request_id
        submit = self._call("unary_unary", _SERVICE + "Submit", pb.SubmitRequest, pb.SubmitResponse)
        try:
            job_id = self._invoke(submit, request).job_id
        except CondenseError as e:
            if e.code != "NOT_FOUND" or not reused:
                raise
            # a remembered blob the server no longer holds (collected, or another caller's): send those files after all
            self._uploads.forget(blob_id for _, _, blob_id in reused)
            self._send([(field, source) for field, source, _ in reused], request, reuse=False)
            job_id = self._invoke(submit, request).job_id
        _import_while_waiting()
        watch = self._call("unary_stream", _SERVICE + "WatchJob", pb.WatchJobRequest, pb.JobEvent)
        try:
            for event in self._invoke(watch, pb.WatchJobRequest(job_id=job_id), stream=True):
                if on_event:
                    on_event(event)
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None
        job = self.job(job_id)
        if job.state != pb.JOB_STATE_COMPLETED:
            error = job.error
            raise CondenseError("job %s %s at step %d (%s): %s: %s" % (job_id, job_state_name(job.state), error.step, error.technique,
                                                                     error.code, error.message), error.code or job_state_name(job.state))
        if output:
            # a bundle of one file for a plain result; the model with its data files for one kept with external data
            self.download_bundle(output, job_id=job_id)
        return job

    def _send(self, files, request, reuse=True):
        """Sets each (field, file) of the SubmitRequest to the file's blob id: uploads started together and awaited, or a
        remembered id of the unchanged file (with ``reuse``). The reused ones as (field, file, blob id)."""
        from condense.bundle import data_files, start_bundle_upload
        pending, reused = [], []
        try:
            for field, source in files:
                if isinstance(source, (bytes, bytearray)):
                    pending.append((field, None, self.start_upload(source)))
                elif field == "model_id" and data_files(source):
                    pending.append((field, None, start_bundle_upload(self, source)))
                else:
                    blob_id = self._uploads.blob_id(source) if reuse and self._uploads else None
                    if blob_id:
                        reused.append((field, source, blob_id))
                        setattr(request, field, blob_id)
                    else:
                        pending.append((field, source, self.start_upload(source)))
            for field, source, upload in pending:
                setattr(request, field, upload.result())
        finally:
            for _, _, upload in pending:
                upload.cancel()
        for field, source, _ in pending:
            if source is not None and self._uploads:
                self._uploads.remember(source, getattr(request, field))
        return reused

    def channel(self, name):
        """The channel of that name (it need not exist yet: Channel.create makes it)."""
        from condense.channel import Channel
        return Channel(self, name)

    def channels(self):
        """Every channel of the caller, without versions."""
        from condense.channel import list_channels
        return list_channels(self)

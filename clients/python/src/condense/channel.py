"""Channel: a standing compression job that a training loop pushes weights into and deployments watch."""
import grpc

from condense.client import CondenseError, _bytes_field, _serialize
from condense.pipeline import parse_pipeline
from condense.v1 import channel_service_pb2 as pb
from condense.weights import to_safetensors

_SERVICE = "/condense.v1.ChannelService/"
CHUNK_BYTES = 1 << 20
_POLICIES = {"latest": pb.CHANNEL_POLICY_LATEST, "every": pb.CHANNEL_POLICY_EVERY}


def list_channels(client):
    stub = client._call("unary_unary", _SERVICE + "ListChannels", pb.ListChannelsRequest, pb.ListChannelsResponse)
    return list(client._invoke(stub, pb.ListChannelsRequest()).channels)


class Channel:
    """One channel of a server, by name."""

    def __init__(self, client, name):
        self._client = client
        self.name = name

    def _unary(self, method, request, response_type):
        stub = self._client._call("unary_unary", _SERVICE + method, type(request), response_type)
        return self._client._invoke(stub, request)

    def create(self, model, pipeline, eval_data=None, eval_labels=None, calibration_data=None, gate="", policy="latest"):
        """Creates the channel over a base ONNX model file: each pushed version runs ``pipeline``; ``gate`` (for example
        "accuracy>=0.85") marks versions below it REJECTED; ``policy`` "latest" supersedes versions still waiting when a
        newer one arrives, "every" compresses each one."""
        if policy not in _POLICIES:
            raise ValueError("policy must be 'latest' or 'every', not %r" % policy)
        from condense.bundle import data_files
        if not isinstance(model, (bytes, bytearray)) and data_files(model):
            raise CondenseError("%s keeps its tensors in external data files (%s): a channel's base model is one ONNX file with its "
                                "tensors inline, since each push is merged into it in memory. Save it without external data "
                                "(onnx.save(onnx.load(path), inline_path)) and create the channel on that file"
                                % (model, ", ".join(data_files(model))), "UNSUPPORTED_MODEL")
        request = pb.CreateChannelRequest(name=self.name, model_id=self._client.upload(model), gate=gate, policy=_POLICIES[policy])
        steps = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
        for technique, parameters in steps:
            request.steps.add(technique=technique, parameters={k: str(v) for k, v in parameters.items()})
        if eval_data:
            request.evaluation_data_id = self._client.upload(eval_data)
        if eval_labels:
            request.evaluation_labels_id = self._client.upload(eval_labels)
        if calibration_data:
            request.calibration_data_id = self._client.upload(calibration_data)
        return self._unary("CreateChannel", request, pb.Channel)

    def push(self, tensors, step=0):
        """Pushes weights: a mapping of initializer name (``fc1.weight``) to a numpy array or anything with ``.numpy()``;
        all of the model's initializers or only those that changed. Returns as soon as the server has queued the version
        (the answer's ``version``); CondenseError (INVALID_ARGUMENT naming the tensor) when the update is refused."""
        return self._push(pb.PushHeader(channel=self.name, step=step, format=pb.WEIGHTS_FORMAT_SAFETENSORS), to_safetensors(tensors))

    def push_file(self, path, step=0):
        """Pushes a weights file as it is: safetensors, .npz of named arrays, or a whole ONNX model."""
        with open(path, "rb") as f:
            return self._push(pb.PushHeader(channel=self.name, step=step), f.read())

    def _push(self, header, data):
        view = memoryview(data)

        def chunks():
            yield pb.PushChunk(header=header)
            for start in range(0, len(view), CHUNK_BYTES):
                # PushChunk{data (2)} in wire format: one copy of the slice (condense.client says why)
                yield _bytes_field(2, view[start:start + CHUNK_BYTES])

        stub = self._client._call("stream_unary", _SERVICE + "Push", pb.PushChunk, pb.PushResult, _serialize)
        return self._client._invoke(stub, chunks())

    def watch(self, from_version=0):
        """Yields each version (a ChannelVersion: version, state, step, figures, reason, report) once it has an outcome,
        in order, from ``from_version``; follows new ones until the channel is deleted or the caller stops iterating."""
        stub = self._client._call("unary_stream", _SERVICE + "WatchChannel", pb.WatchChannelRequest, pb.ChannelVersion)
        stream = self._client._invoke(stub, pb.WatchChannelRequest(channel=self.name, from_version=from_version), stream=True)
        try:
            for version in stream:
                yield version
        except grpc.RpcError as e:
            raise CondenseError("%s: %s" % (e.code().name, e.details()), e.code().name) from None
        finally:
            stream.cancel()

    def status(self):
        """The channel with every version and its state."""
        return self._unary("GetChannel", pb.GetChannelRequest(name=self.name), pb.Channel)

    def download(self, version, path):
        """Writes a compressed version's model to a file; the bytes written."""
        return self._client.download((_SERVICE + "DownloadVersion", pb.DownloadVersionRequest(channel=self.name, version=version)), path)

    def delete(self):
        self._unary("DeleteChannel", pb.DeleteChannelRequest(name=self.name), pb.DeleteChannelResponse)


"""Tests of the package that need no server: the pipeline syntax, the safetensors bytes pushes are sent in, bundles and the
remembered uploads."""
import hashlib
import json
import os
import struct
import tempfile
import time
import unittest

os.environ["CONDENSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="condense-cache-")

import google_crc32c

import numpy as np

import condense
from condense.bundle import receive_bundle
from condense.uploads import UploadCache
from condense.v1 import compression_service_pb2 as pb
from condense.weights import as_array


class FakeTorchTensor:
    """What a torch tensor offers the client: detach(), cpu(), numpy()."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


def read_safetensors(data):
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    types = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1"}
    return {name: np.frombuffer(body[info["data_offsets"][0]:info["data_offsets"][1]], dtype=types[info["dtype"]]).reshape(info["shape"])
            for name, info in header.items()}


class PipelineTest(unittest.TestCase):
    def test_steps_and_parameters(self):
        self.assertEqual(condense.parse_pipeline("prune(sparsity=0.5, scope=global) | quantize(bits=8)"),
                         [("prune", {"sparsity": "0.5", "scope": "global"}), ("quantize", {"bits": "8"})])
        self.assertEqual(condense.parse_pipeline('prune(exclude="conv1,fc*", pattern=2:4)|encode'),
                         [("prune", {"exclude": "conv1,fc*", "pattern": "2:4"}), ("encode", {})])

    def test_errors_say_where(self):
        with self.assertRaises(ValueError):
            condense.parse_pipeline("")
        with self.assertRaises(ValueError):
            condense.parse_pipeline("prune(sparsity=0.5")
        with self.assertRaises(ValueError):
            condense.parse_pipeline("prune quantize")


class CommandLineTest(unittest.TestCase):
    def test_a_pipeline_that_does_not_parse_or_a_missing_file_is_one_line_not_a_traceback(self):
        import subprocess
        import sys
        with tempfile.TemporaryDirectory() as folder:
            model = os.path.join(folder, "model.onnx")
            with open(model, "wb") as f:
                f.write(b"not sent: the pipeline is refused first")
            for arguments, said in (([model, "--pipeline", "quantize(bits=8"], "ends early"),
                                    ([os.path.join(folder, "missing.onnx"), "--pipeline", "quantize(bits=8)"], "missing.onnx")):
                done = subprocess.run([sys.executable, "-m", "condense", "compress"] + arguments + ["--server", "127.0.0.1:1"],
                                      capture_output=True, text=True, env=os.environ, timeout=60)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(said, done.stderr)
                self.assertNotIn("Traceback", done.stderr)


class SafetensorsTest(unittest.TestCase):
    def test_importing_the_package_leaves_numpy_for_the_first_push(self):
        import subprocess
        import sys
        code = "import sys, condense; print('numpy' in sys.modules); condense.to_safetensors({'w': [1]}); print('numpy' in sys.modules)"
        shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ).stdout.split()
        self.assertEqual(shown, ["False", "True"])

    def test_round_trip_of_arrays_and_tensor_like_objects(self):
        weights = {"fc1.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "fc1.bias": FakeTorchTensor(np.array([1.5, -2], dtype=np.float32)),
                   "steps": np.array([7], dtype=np.int64), "half": np.ones((2, 2), dtype=np.float16)}
        data = condense.to_safetensors(weights)
        (length,) = struct.unpack("<Q", data[:8])
        self.assertEqual(length % 8, 0)
        back = read_safetensors(data)
        self.assertEqual(list(back), ["fc1.weight", "fc1.bias", "steps", "half"])
        np.testing.assert_array_equal(back["fc1.weight"], weights["fc1.weight"])
        np.testing.assert_array_equal(back["fc1.bias"], [1.5, -2])
        self.assertEqual(back["half"].dtype, np.float16)

    def test_non_contiguous_and_big_endian_arrays_are_written_in_c_order_little_endian(self):
        array = np.arange(6, dtype=">f4").reshape(3, 2).T
        back = read_safetensors(condense.to_safetensors({"w": array}))
        np.testing.assert_array_equal(back["w"], array)

    def test_float64_is_refused_with_what_to_do(self):
        with self.assertRaisesRegex(ValueError, "float64.*astype"):
            as_array("fc1.weight", np.zeros(3))
        with self.assertRaises(ValueError):
            condense.to_safetensors({})


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _external_tensor(name, location):
    """An ONNX TensorProto (dims 3, name, external_data location and offset, data_location EXTERNAL) as bytes."""
    entry = _field(1, b"location") + _field(2, location.encode())
    return (b"\x08\x03" + _field(8, name.encode()) + _field(13, entry) + _field(13, _field(1, b"offset") + _field(2, b"0"))
            + b"\x70\x01")


def _model(*tensors, constant=None):
    """An ONNX ModelProto (ir_version 8) whose graph has these initializers and, optionally, a Constant node's tensor."""
    graph = b"".join(_field(5, tensor) for tensor in tensors)
    if constant is not None:
        graph += _field(1, _field(4, b"Constant") + _field(5, _field(1, b"value") + _field(5, constant) + b"\xa0\x01\x04"))
    return b"\x08\x08" + _field(7, graph) + _field(8, b"\x10\x11")  # ir_version 8, graph, opset_import {version: 17}


class BundleFilesTest(unittest.TestCase):
    def test_every_data_file_the_model_names_once_in_order(self):
        with tempfile.TemporaryDirectory() as folder:
            model = os.path.join(folder, "big.onnx")
            with open(model, "wb") as f:
                f.write(_model(_external_tensor("w1", "big.onnx.data"), _external_tensor("w2", "big.onnx.data"),
                               constant=_external_tensor("c", "weights/const.bin")))
            os.makedirs(os.path.join(folder, "weights"))
            for name in ("big.onnx.data", "weights/const.bin"):
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(b"\0" * 12)
            self.assertEqual(condense.data_files(model), ["big.onnx.data", "weights/const.bin"])
            os.remove(os.path.join(folder, "weights/const.bin"))
            with self.assertRaisesRegex(condense.BundleError, "tensor 'c' .* names the data file 'weights/const.bin', which is not at"):
                condense.data_files(model)

    def test_an_inline_model_names_none_and_a_path_leaving_the_folder_is_refused(self):
        with tempfile.TemporaryDirectory() as folder:
            model = os.path.join(folder, "m.onnx")
            with open(model, "wb") as f:
                f.write(_model(b"\x08\x03" + _field(8, b"inline") + _field(9, b"\0" * 12)))
            self.assertEqual(condense.data_files(model), [])
            with open(model, "wb") as f:
                f.write(_model(_external_tensor("w", "../elsewhere.data")))
            with self.assertRaisesRegex(condense.BundleError, "leaves the model's folder"):
                condense.data_files(model)
            with open(model, "wb") as f:
                f.write(b"\x0b\x01")
            with self.assertRaisesRegex(condense.BundleError, "not a valid ONNX protobuf"):
                condense.data_files(model)


def _stream(files, corrupt=None, size_error=False):
    header = pb.BundleHeader()
    for name, data in files:
        header.files.add(name=name, size=len(data) + (1 if size_error else 0), sha256=hashlib.sha256(data).hexdigest())
    yield pb.BundleChunk(header=header)
    for index, (name, data) in enumerate(files):
        for offset in range(0, len(data), 5):
            part = data[offset:offset + 5]
            crc = google_crc32c.value(part) ^ (1 if corrupt == (index, offset) else 0)
            yield pb.BundleChunk(data=pb.BundleData(file=index, offset=offset, data=part, crc32c=crc))


class ReceiveBundleTest(unittest.TestCase):
    FILES = [("model.onnx", _model(_external_tensor("w", "model.onnx.data"), constant=_external_tensor("c", "model.onnx.data"))),
             ("model.onnx.data", b"0123456789abcdefghij")]

    def test_the_model_goes_to_the_path_and_its_data_file_beside_it_named_after_it(self):
        with tempfile.TemporaryDirectory() as folder:
            written = receive_bundle(_stream(self.FILES), os.path.join(folder, "out", "small.onnx"))
            self.assertEqual(written, [os.path.join(folder, "out", "small.onnx"), os.path.join(folder, "out", "small.onnx.data")])
            with open(written[1], "rb") as f:
                self.assertEqual(f.read(), self.FILES[1][1])
            self.assertEqual(sorted(os.listdir(os.path.join(folder, "out"))), ["small.onnx", "small.onnx.data"])
            # the model names its data file by the new name, every other byte as the server sent it
            self.assertEqual(condense.data_files(written[0]), ["small.onnx.data"])
            with open(written[0], "rb") as f:
                self.assertEqual(f.read(), _model(_external_tensor("w", "small.onnx.data"), constant=_external_tensor("c", "small.onnx.data")))

    def test_a_damaged_chunk_or_a_wrong_size_leaves_nothing_behind(self):
        with tempfile.TemporaryDirectory() as folder:
            target = os.path.join(folder, "small.onnx")
            with self.assertRaisesRegex(condense.BundleError, "chunk of 'model.onnx.data' at offset 5 does not match its CRC32C"):
                receive_bundle(_stream(self.FILES, corrupt=(1, 5)), target)
            self.assertEqual(os.listdir(folder), [])
            with self.assertRaisesRegex(condense.BundleError, "'model.onnx' arrived with %d bytes .* the header says %d bytes" % (len(self.FILES[0][1]), len(self.FILES[0][1]) + 1)):
                receive_bundle(_stream(self.FILES, size_error=True), target)
            self.assertEqual(os.listdir(folder), [])


class WireFormatTest(unittest.TestCase):
    """Upload requests are written in protobuf's wire format by hand (condense.client says why): the server must read
    exactly the messages protobuf would have sent."""

    PAYLOADS = [b"", b"x", bytes(range(200)), os.urandom(1 << 20)]

    def test_an_upload_chunk_is_the_message_protobuf_would_send(self):
        from condense.client import upload_chunk
        for data in self.PAYLOADS:
            for given in (data, memoryview(data), bytearray(data)):
                encoded = upload_chunk(given)
                self.assertIsInstance(encoded, bytes)
                self.assertEqual(pb.UploadChunk.FromString(encoded), pb.UploadChunk(data=data))
                self.assertEqual(len(encoded), len(pb.UploadChunk(data=data).SerializeToString()) + (2 if not data else 0))

    def test_a_bundle_chunk_is_the_message_protobuf_would_send(self):
        from condense.bundle import bundle_data_chunk
        for data in self.PAYLOADS:
            for index, offset in ((0, 0), (1, 0), (0, 5), (3, (1 << 35) + 7), (300, 1 << 20)):
                expected = pb.BundleChunk(data=pb.BundleData(file=index, offset=offset, data=data, crc32c=google_crc32c.value(data)))
                encoded = bundle_data_chunk(index, offset, data)
                self.assertEqual(pb.BundleChunk.FromString(encoded), expected)
                if data:  # (no file sends an empty chunk; protobuf would leave its zero fields out)
                    self.assertEqual(encoded, expected.SerializeToString())

    def test_a_push_chunk_is_the_message_protobuf_would_send(self):
        from condense.client import _bytes_field
        from condense.v1 import channel_service_pb2 as channels
        for data in self.PAYLOADS[1:]:
            self.assertEqual(_bytes_field(2, memoryview(data)), channels.PushChunk(data=data).SerializeToString())


class UploadCacheTest(unittest.TestCase):
    def test_an_unchanged_file_of_the_same_server_and_caller_has_its_id_and_any_change_loses_it(self):
        with tempfile.TemporaryDirectory() as folder:
            data, path = os.path.join(folder, "x.npy"), os.path.join(folder, "cache", "uploads.json")
            with open(data, "wb") as f:
                f.write(b"calibration")
            cache = UploadCache("127.0.0.1:1", path)
            self.assertIsNone(cache.blob_id(data))
            cache.remember(data, "a" * 64)
            self.assertEqual(cache.blob_id(data), "a" * 64)
            # read again from the file, as the next command does; another server or caller does not see it
            self.assertEqual(UploadCache("127.0.0.1:1", path).blob_id(data), "a" * 64)
            self.assertIsNone(UploadCache("127.0.0.1:2", path).blob_id(data))
            # the same size written again later: a new modification time
            time.sleep(0.01)
            with open(data, "wb") as f:
                f.write(b"Calibration")
            self.assertIsNone(UploadCache("127.0.0.1:1", path).blob_id(data))
            cache.remember(data, "b" * 64)
            self.assertEqual(cache.blob_id(data), "b" * 64)
            self.assertEqual(len(json.load(open(path))), 1)
            cache.forget(["b" * 64])
            self.assertIsNone(UploadCache("127.0.0.1:1", path).blob_id(data))
            self.assertIsNone(cache.blob_id(os.path.join(folder, "missing.npy")))

    def test_a_cache_file_that_cannot_be_read_only_means_sending_again(self):
        with tempfile.TemporaryDirectory() as folder:
            data, path = os.path.join(folder, "x.npy"), os.path.join(folder, "uploads.json")
            with open(data, "wb") as f:
                f.write(b"x")
            with open(path, "w") as f:
                f.write("{not json")
            cache = UploadCache("s", path)
            self.assertIsNone(cache.blob_id(data))
            cache.remember(data, "c" * 64)
            self.assertEqual(UploadCache("s", path).blob_id(data), "c" * 64)


if __name__ == "__main__":
    unittest.main()

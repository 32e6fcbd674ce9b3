"""Tests of the package that need no server: the pipeline syntax and the safetensors bytes pushes are sent in."""
import json
import struct
import unittest

import numpy as np

import condense
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


class SafetensorsTest(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()

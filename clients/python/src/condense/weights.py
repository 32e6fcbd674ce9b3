"""Named tensors written as a safetensors file, the format the server reads pushes in.

safetensors is an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
then the raw little-endian values in C order: written here with the standard library and numpy, no extra package.
"""
import json
import struct

# by numpy's kind and item size; numpy itself is imported on the first push, not with the package: a client that only
# compresses files (Client.compress) starts about 0.15 s sooner without it
_DTYPES = {"f4": "F32", "f2": "F16", "i1": "I8", "u1": "U8", "i4": "I32", "i8": "I64"}


def _kind(array):
    return array.dtype.kind + str(array.dtype.itemsize)


def as_array(name, value):
    """A numpy array of a value: a numpy array, anything with .numpy() (a torch or TensorFlow tensor), or a nested list."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        value = value.numpy()
    import numpy as np
    array = np.asarray(value)
    if _kind(array) not in _DTYPES:
        raise ValueError("tensor %r is %s; push float32, float16, int8, uint8, int32 or int64 (the dtype of the model's "
                         "initializer; for float64 arrays use .astype(numpy.float32))" % (name, array.dtype))
    return np.ascontiguousarray(array.astype(np.dtype(_kind(array)).newbyteorder("<"), copy=False))


def to_safetensors(tensors):
    """The bytes of a safetensors file holding the tensors (a mapping of name to array), in the mapping's order."""
    if not tensors:
        raise ValueError("no tensors to push")
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        array = as_array(name, value)
        data = array.tobytes()
        header[name] = {"dtype": _DTYPES[_kind(array)], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)

"""Model bundles: an ONNX model whose tensors live in external data files, sent and received with those files as one
checksummed stream (UploadBundle, DownloadBundle: proto/README.md). The server checks every chunk's CRC32C and every
file's size and SHA-256; so does the download here.

Which data files a model names is read from the model file itself. The package has no ONNX dependency, so the few
protobuf fields that lead to a tensor's ``external_data`` are walked by hand (``_locations``); the field numbers are
those of onnx.proto3 (ModelProto.graph 7, GraphProto.node 1 / initializer 5 / sparse_initializer 15, ...).
"""
import os

from condense.v1 import compression_service_pb2 as pb

CHUNK_BYTES = 1 << 20

# message kind -> {field number: message kind} for the length-delimited fields that can hold a tensor
_MODEL, _GRAPH, _FUNCTION, _NODE, _ATTRIBUTE, _SPARSE, _TENSOR = range(7)
_CHILDREN = {
    _MODEL: {7: _GRAPH, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _FUNCTION: {7: _NODE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA = 8, 13


class BundleError(ValueError):
    """A model whose data files cannot be sent, or a bundle stream that does not check out; the message says which file."""


def data_files(model_path):
    """The external data files a model file names, as the relative paths its tensors give (``big.onnx.data``), each once,
    in the order first named; [] for a model with every tensor inline. BundleError for a path that leaves the model's
    folder or a file that is not there."""
    with open(model_path, "rb") as f:
        data = memoryview(f.read())
    folder = os.path.dirname(os.path.abspath(model_path))
    files = []
    for tensor, location in _locations(data, 0, len(data), _MODEL):
        problem = location_problem(location)
        if problem:
            raise BundleError("tensor '%s' of %s names the data file '%s': %s" % (tensor, model_path, location, problem))
        if location not in files:
            path = os.path.join(folder, location)
            if not os.path.isfile(path):
                raise BundleError("tensor '%s' of %s names the data file '%s', which is not at %s: put the model's data files "
                                  "beside it" % (tensor, model_path, location, path))
            files.append(location)
    return files


def location_problem(location):
    """Why a data file name cannot be used (ONNX's rule: a relative path inside the model's folder), or None."""
    if not location or location.startswith(("/", "\\")) or os.path.isabs(location) or ":" in location.split("/")[0]:
        return "an absolute path or empty; ONNX data files are named relative to the model's folder"
    if any(part == ".." for part in location.replace("\\", "/").split("/")):
        return "it leaves the model's folder ('..')"
    return None


def upload_bundle(client, model_path):
    """Streams the model and the data files it names through UploadBundle; the blob id the server answers."""
    return start_bundle_upload(client, model_path).result()


def start_bundle_upload(client, model_path):
    """``upload_bundle`` started and not waited for: a PendingUpload (condense.client) of the bundle's blob id. Every file is
    opened (and its SHA-256 computed for the header) here, so a missing file raises OSError before anything is sent."""
    from condense.client import _file_chunks
    names = [os.path.basename(model_path)] + data_files(model_path)
    folder = os.path.dirname(os.path.abspath(model_path))
    paths = [os.path.abspath(model_path)] + [os.path.join(folder, name) for name in names[1:]]
    header = pb.BundleHeader()
    for name, path in zip(names, paths):
        header.files.add(name=name, size=os.path.getsize(path), sha256=_sha256(path))
    files = [open(path, "rb") for path in paths]

    def chunks():
        yield pb.BundleChunk(header=header)
        for index, f in enumerate(files):
            yield from _file_chunks(f, lambda data, offset, index=index: bundle_data_chunk(index, offset, data))

    return client.start_stream_upload("UploadBundle", pb.BundleChunk, chunks())


def bundle_data_chunk(index, offset, data):
    """BundleChunk{data: BundleData{file, offset, data, crc32c}} in wire format (condense.client says why not a message);
    fields at their default (0) are left out, as protobuf leaves them."""
    import struct

    import google_crc32c
    from condense.client import _bytes_field, _varint
    head = (b"\x08" + _varint(index) if index else b"") + (b"\x10" + _varint(offset) if offset else b"") + b"\x1a" + _varint(len(data))
    return _bytes_field(2, data, head, b"\x25" + struct.pack("<I", google_crc32c.value(data)))


def receive_bundle(chunks, path):
    """Writes a DownloadBundle stream: the model to ``path`` and its data files beside it as ``<path>.data`` (then ``.data2``,
    ...), the model rewritten to name them so, every file first under a temporary name and moved into place once its size
    and SHA-256 match the header. The paths written."""
    import hashlib
    import tempfile

    import google_crc32c
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = None
    targets, temporaries, outs, digests, written = [], [], [], [], []
    try:
        for chunk in chunks:
            if chunk.HasField("header"):
                if header is not None:
                    raise BundleError("the bundle stream sent a second header")
                header = chunk.header
                if not header.files:
                    raise BundleError("the bundle header names no file")
                for index, entry in enumerate(header.files):
                    if index > 0 and location_problem(entry.name):
                        raise BundleError("the bundle names the data file '%s': %s" % (entry.name, location_problem(entry.name)))
                    target = os.path.abspath(path) if index == 0 else None  # data files: named once all have arrived
                    fd, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path), suffix=".part")
                    targets.append(target)
                    temporaries.append(temporary)
                    outs.append(os.fdopen(fd, "wb"))
                    digests.append(hashlib.sha256())
                    written.append(0)
                continue
            if header is None:
                raise BundleError("the bundle stream sent data before its header")
            part = chunk.data
            if part.file < 0 or part.file >= len(targets):
                raise BundleError("a chunk names file %d; the header has %d" % (part.file, len(targets)))
            name = header.files[part.file].name
            if part.offset != written[part.file]:
                raise BundleError("a chunk of '%s' starts at %d, expected %d" % (name, part.offset, written[part.file]))
            if google_crc32c.value(part.data) != part.crc32c:
                raise BundleError("a chunk of '%s' at offset %d does not match its CRC32C: download it again" % (name, part.offset))
            outs[part.file].write(part.data)
            digests[part.file].update(part.data)
            written[part.file] += len(part.data)
        if header is None:
            raise BundleError("the bundle stream ended before its header")
        for out in outs:
            out.close()
        for index, entry in enumerate(header.files):
            if written[index] != entry.size or digests[index].hexdigest() != entry.sha256:
                raise BundleError("'%s' arrived with %d bytes and SHA-256 %s; the header says %d bytes, %s: download it again"
                                  % (entry.name, written[index], digests[index].hexdigest(), entry.size, entry.sha256))
        # the data files beside the model as <name>.data, <name>.data2, ... (as `condense compress -o` writes them), the
        # model rewritten to name them so: two results downloaded into one folder keep their own data
        renames = {}
        for index in range(1, len(targets)):
            name = os.path.basename(targets[0]) + ".data" + ("" if index == 1 else str(index))
            renames[header.files[index].name] = name
            targets[index] = os.path.join(folder, name)
        if renames:
            with open(temporaries[0], "rb") as f:
                model = renamed(f.read(), renames)
            with open(temporaries[0], "wb") as f:
                f.write(model)
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
        return targets
    finally:
        for out in outs:
            out.close()
        for temporary in temporaries:
            if os.path.exists(temporary):
                os.remove(temporary)


def _sha256(path):
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _locations(data, start, end, kind):
    """(tensor name, location) for every tensor with external data in the message data[start:end] of that kind."""
    if kind == _TENSOR:
        name = ""
        location = None
        for number, value, _, _ in _fields(data, start, end):
            if number == _TENSOR_NAME and value is not None:
                name = bytes(data[value[0]:value[1]]).decode("utf-8", "replace")
            elif number == _TENSOR_EXTERNAL_DATA and value is not None:
                key, entry = _entry(data, value)
                if key == "location":
                    location = entry
        if location is not None:
            yield name, location
        return
    children = _CHILDREN[kind]
    for number, value, _, _ in _fields(data, start, end):
        if value is not None and number in children:
            yield from _locations(data, value[0], value[1], children[number])


def _entry(data, span):
    """The key and value of a StringStringEntryProto."""
    key = value = None
    for field, part, _, _ in _fields(data, span[0], span[1]):
        if part is not None and field == 1:
            key = bytes(data[part[0]:part[1]]).decode("utf-8")
        elif part is not None and field == 2:
            value = bytes(data[part[0]:part[1]]).decode("utf-8")
    return key, value


def renamed(model, renames):
    """The model file's bytes with each data file name (a tensor's external_data location) that ``renames`` holds replaced by
    its new name; every other byte as it was."""
    data = memoryview(model)
    return bytes(_renamed(data, 0, len(data), _MODEL, renames))


def _renamed(data, start, end, kind, renames):
    out = bytearray()
    children = _CHILDREN.get(kind, {})
    for number, value, first, last in _fields(data, start, end):
        if value is not None and kind == _TENSOR and number == _TENSOR_EXTERNAL_DATA:
            key, location = _entry(data, value)
            if key == "location" and location in renames:
                out += _length_delimited(number, _length_delimited(1, key.encode()) + _length_delimited(2, renames[location].encode()))
                continue
        elif value is not None and number in children:
            out += _length_delimited(number, _renamed(data, value[0], value[1], children[number], renames))
            continue
        out += data[first:last]
    return out


def _length_delimited(number, payload):
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + bytes(payload)


def _encode_varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(data, start, end):
    """(field number, (start, end) of a length-delimited value or None, the field's first byte, its end) for each field of a
    protobuf message."""
    position = start
    while position < end:
        first = position
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, position = _varint(data, position)
            yield number, None, first, position
        elif wire == 1:
            position += 8
            yield number, None, first, position
        elif wire == 5:
            position += 4
            yield number, None, first, position
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > end:
                raise BundleError("the model file is not a valid ONNX protobuf (a field runs past its message)")
            yield number, (position, position + length), first, position + length
            position += length
        else:
            raise BundleError("the model file is not a valid ONNX protobuf (wire type %d)" % wire)


def _varint(data, position):
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise BundleError("the model file is not a valid ONNX protobuf (cut inside a number)")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7

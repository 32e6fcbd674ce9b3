#!/usr/bin/env python3
"""Standalone decoder of Condense packed models (.cpk, docs/FORMAT.md) into ONNX, needing only numpy (and, for files
written with entropy=zstd, the zstandard module: pip install zstandard, or Debian's python3-zstandard).

    python3 cpk_decode.py MODEL.cpk -o MODEL.onnx

or, from Python: ``onnx_bytes = cpk_decode.decode(open("MODEL.cpk", "rb").read())``.

Every tensor of the decoded model is bit-identical to the model the encode step received. The file is verified before
it is trusted (magic, version, CRC32C of the header and of every section, every count against the bytes that carry it);
a file that fails is refused with ``CpkError`` and nothing else. Exit codes: 0 decoded, 2 refused or unreadable.
"""
import struct
import sys
import zlib

import numpy as np

MAGIC = b"\x89CPK\r\n\x1a\n"
HEADER_BYTES = 24
ENTRY_BYTES = 32
MAX_SECTIONS = 1 << 20
MAX_ELEMENTS = 2**31 - 9
MAX_CODE_LENGTH = 15
MAX_ZSTD_RATIO = 32768
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ELEMENT_BITS = {1: 32, 2: 8, 3: 8, 10: 16, 16: 16, 21: 4, 22: 4}
DEFAULT_MAX_DECODED_BYTES = 2**31 - 9


MAX_ADAPTIVE_WIDTH = 16
MAX_ADAPTIVE_RATIO = 8192
COUNT_LIMIT = 1024


class CpkError(Exception):
    """The file is not a packed model this decoder can fully verify."""


class _RangeDecoder:
    """The adaptive binary coding's range decoder (docs/FORMAT.md, "Adaptive binary coding"): 32-bit range and code,
    byte-wise renormalisation, 16-bit probabilities of a zero."""

    def __init__(self, payload, what):
        if len(payload) < 5:
            raise CpkError("%s: an adaptive payload of %d bytes (at least 5)" % (what, len(payload)))
        if payload[0] != 0:
            raise CpkError("%s: an adaptive payload must start with a zero byte" % what)
        self.data = payload
        self.next = 5
        self.range = 0xFFFFFFFF
        self.code = int.from_bytes(payload[1:5], "big")
        self.what = what

    def bit(self, p0):
        bound = (self.range >> 16) * p0
        if self.code < bound:
            self.range = bound
            bit = 0
        else:
            self.code -= bound
            self.range -= bound
            bit = 1
        while self.range < 0x1000000:
            if self.next >= len(self.data):
                raise CpkError("%s: an adaptive payload ends before its symbols do" % self.what)
            self.range = (self.range << 8) & 0xFFFFFFFF
            self.code = ((self.code << 8) | self.data[self.next]) & 0xFFFFFFFF
            self.next += 1
        return bit

    def finish(self):
        if self.next != len(self.data):
            raise CpkError("%s: an adaptive payload has %d bytes more than its symbols need" % (self.what, len(self.data) - self.next))


class _Model:
    """Per context, the zeros and ones seen (in halves, each starting at one), halved past COUNT_LIMIT."""

    def __init__(self, contexts):
        self.zeros = [1] * contexts
        self.ones = [1] * contexts

    def p0(self, c):
        return (self.zeros[c] << 16) // (self.zeros[c] + self.ones[c])

    def update(self, c, bit):
        if bit:
            self.ones[c] += 2
        else:
            self.zeros[c] += 2
        if self.zeros[c] + self.ones[c] > COUNT_LIMIT:
            self.zeros[c] = (self.zeros[c] + 1) >> 1
            self.ones[c] = (self.ones[c] + 1) >> 1


def _bucket(ones, seen):
    """A density's bucket: 8 when nothing was seen, else the bit length of floor(64 ones / seen)."""
    if seen == 0:
        return 8
    return (ones * 64 // seen).bit_length()


def _payload_length(r, what):
    """A u64 payload length, checked against what is left of the section."""
    payload_len = r.u64()
    if payload_len > r.remaining():
        raise CpkError("%s: %d payload bytes, only %d left" % (what, payload_len, r.remaining()))
    return payload_len


def _adaptive_payload(r, what, bits):
    """A range decoder over an adaptive payload that is to hold `bits` decisions, refused when they cannot fit."""
    payload_len = _payload_length(r, what)
    if bits > payload_len * MAX_ADAPTIVE_RATIO:
        raise CpkError("%s: %d bits cannot be coded in %d bytes" % (what, bits, payload_len))
    return _RangeDecoder(r.take(payload_len, what), what)


def _mask(r, name, elements, rows, stride, entries):
    """A MASKED tensor's mask: positions of its set bits, one adaptively coded bit per element in row-major order."""
    rd = _adaptive_payload(r, "tensor '%s' mask" % name, elements)
    model = _Model(2 * 2 * 9 * 9)
    columns = elements // rows
    column_ones = [0] * columns
    row = [0] * columns
    positions = []
    p = 0
    for i in range(rows):
        row_ones = 0
        for j in range(columns):
            left = row[j - 1] if j > 0 else 0
            above = row[j - stride] if stride and j >= stride else 0
            c = ((left * 2 + above) * 9 + _bucket(column_ones[j], i)) * 9 + _bucket(row_ones, j)
            bit = rd.bit(model.p0(c))
            model.update(c, bit)
            row[j] = bit
            if bit:
                column_ones[j] += 1
                row_ones += 1
                if len(positions) == entries:
                    raise CpkError("tensor '%s' mask sets more than its %d values" % (name, entries))
                positions.append(p)
            p += 1
    if len(positions) != entries:
        raise CpkError("tensor '%s' mask sets %d elements for %d values" % (name, len(positions), entries))
    rd.finish()
    return np.array(positions, dtype=np.int64)


def _adaptive_stream(r, what, limit, count):
    """An ADAPTIVE stream after its count and coding: width, payload length, symbols as binary trees of coded bits."""
    width = r.u8()
    if not 1 <= width <= MAX_ADAPTIVE_WIDTH:
        raise CpkError("%s: adaptive width %d outside [1, %d]" % (what, width, MAX_ADAPTIVE_WIDTH))
    if count > MAX_ELEMENTS:
        raise CpkError("%s: %d symbols, more than a tensor may hold" % (what, count))
    rd = _adaptive_payload(r, what, count * width)
    model = _Model(1 << width)
    out = [0] * count
    top = 1 << width
    for i in range(count):
        node = 1
        while node < top:
            bit = rd.bit(model.p0(node))
            model.update(node, bit)
            node = (node << 1) | bit
        symbol = node - top
        if symbol >= limit:
            raise CpkError("%s: symbol %d is not below %d" % (what, symbol, limit))
        out[i] = symbol
    rd.finish()
    return np.array(out, dtype=np.int64)


def _crc32c_table():
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return [int(x) for x in table]


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC32C (Castagnoli), as java.util.zip.CRC32C."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class _Reader:
    def __init__(self, data, start, end):
        self.data, self.pos, self.end = data, start, end

    def need(self, n, what):
        if n < 0 or n > self.end - self.pos:
            raise CpkError("ends inside %s (%d bytes needed, %d left)" % (what, n, self.end - self.pos))

    def take(self, n, what="a field"):
        self.need(n, what)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def name(self):
        n = self.u16()
        if n == 0:
            raise CpkError("an empty name")
        try:
            return self.take(n, "a name").decode("utf-8")
        except UnicodeDecodeError:
            raise CpkError("a name is not valid UTF-8")

    def remaining(self):
        return self.end - self.pos


def _bits(payload):
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8))  # most significant bit first


def _check_padding(bits, used, payload_len):
    if (used + 7) // 8 != payload_len:
        raise CpkError("a bit stream has %d bytes more than its symbols need" % (payload_len - (used + 7) // 8))
    if bits[used:].any():
        raise CpkError("a bit stream's padding bits are not zero")


def _canonical_codes(lengths):
    counts = [0] * (MAX_CODE_LENGTH + 1)
    for length in lengths:
        counts[length] += 1
    counts[0] = 0
    left = 1
    for length in range(1, MAX_CODE_LENGTH + 1):
        left = (left << 1) - counts[length]
        if left < 0:
            raise CpkError("the code lengths over-subscribe the code space")
    nxt = [0] * (MAX_CODE_LENGTH + 2)
    code = 0
    for length in range(1, MAX_CODE_LENGTH + 1):
        code = (code + counts[length - 1]) << 1
        nxt[length] = code
    codes = [0] * len(lengths)
    for s, length in enumerate(lengths):
        if length:
            codes[s] = nxt[length]
            nxt[length] += 1
    return codes


def _packed_lengths(r, what, alphabet):
    """Code lengths as 4-bit nibbles, symbol 2j in the high nibble of byte j (coding HUFFMAN)."""
    packed = r.take((alphabet + 1) // 2, "a code-length table")
    lengths = []
    for i in range(alphabet):
        byte = packed[i // 2]
        lengths.append(byte >> 4 if i % 2 == 0 else byte & 0x0F)
    if alphabet % 2 == 1 and packed[-1] & 0x0F:
        raise CpkError("%s: the unused last code-length nibble is not zero" % what)
    return lengths


def _run_lengths(r, what, alphabet):
    """Code lengths as runs: each byte a length (high nibble) repeated low nibble + 1 times (coding HUFFMAN_RUNS)."""
    runs = r.u32()
    if not 1 <= runs <= alphabet or runs > r.remaining():
        raise CpkError("%s: %d code-length runs for %d symbols" % (what, runs, alphabet))
    lengths = []
    for byte in r.take(runs, "a code-length table"):
        lengths.extend([byte >> 4] * ((byte & 0x0F) + 1))
        if len(lengths) > alphabet:
            raise CpkError("%s: the code-length runs cover more than the %d symbols" % (what, alphabet))
    if len(lengths) != alphabet:
        raise CpkError("%s: the code-length runs cover %d of the %d symbols" % (what, len(lengths), alphabet))
    return lengths


def _stream(r, what, limit, expected, budget):
    count = r.u64()
    if expected is not None and count != expected:
        raise CpkError("%s: %d symbols, expected %d" % (what, count, expected))
    coding = r.u8()
    if coding == 0:
        width = r.u8()
        if not 1 <= width <= 32:
            raise CpkError("%s: fixed width %d outside [1, 32]" % (what, width))
        payload_len = r.u64()
        if count > MAX_ELEMENTS or payload_len != (count * width + 7) // 8:
            raise CpkError("%s: %d payload bytes for %d symbols of %d bits" % (what, payload_len, count, width))
        bits = _bits(r.take(payload_len, "a bit stream"))
        used = count * width
        _check_padding(bits, used, payload_len)
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        matrix = bits[:used].reshape(count, width).astype(np.uint64)
        weights = (np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64))
        symbols = (matrix * weights).sum(axis=1, dtype=np.uint64).astype(np.int64)
        if (symbols >= limit).any():
            raise CpkError("%s: a symbol is not below %d" % (what, limit))
        return symbols
    if coding == 2:
        return _zstd_stream(r, what, limit, count, budget)
    if coding == 4:
        return _adaptive_stream(r, what, limit, count)
    if coding not in (1, 3):
        raise CpkError("%s: unknown coding %d" % (what, coding))
    alphabet = r.u32()
    if not 1 <= alphabet <= min(limit, 1 << 16):
        raise CpkError("%s: Huffman alphabet of %d symbols" % (what, alphabet))
    lengths = _packed_lengths(r, what, alphabet) if coding == 1 else _run_lengths(r, what, alphabet)
    payload_len = _payload_length(r, what)
    if count > payload_len * 8:
        raise CpkError("%s: %d symbols cannot fit in %d bytes" % (what, count, payload_len))
    codes = _canonical_codes(lengths)
    bits = _bits(r.take(payload_len, "a bit stream"))
    longest = max(lengths)
    symbols = np.zeros(count, dtype=np.int64)
    if count == 0:
        _check_padding(bits, 0, payload_len)
        return symbols
    if longest == 0:
        raise CpkError("%s: a Huffman code without symbols" % what)
    table = np.zeros(1 << longest, dtype=np.int64)
    for s, length in enumerate(lengths):
        if length:
            shift = longest - length
            first = codes[s] << shift
            table[first:first + (1 << shift)] = (s << 4) | length
    # the longest-bit window starting at every bit position (zeros past the end), computed in one pass
    nbits = len(bits)
    padded = np.concatenate([bits, np.zeros(longest, dtype=np.uint8)]).astype(np.int64)
    windows = np.zeros(nbits + 1, dtype=np.int64)
    for k in range(longest):
        windows = (windows << 1) | padded[k:k + nbits + 1]
    entries = table[windows].tolist()
    pos = 0
    out = [0] * count
    for i in range(count):
        if pos > nbits:
            raise CpkError("%s: a Huffman stream ends in the middle of a code" % what)
        e = entries[pos]
        if e == 0:
            raise CpkError("%s: a bit sequence that is no code of its Huffman table" % what)
        pos += e & 0x0F
        out[i] = e >> 4
    if pos > nbits:
        raise CpkError("%s: a Huffman stream ends in the middle of a code" % what)
    _check_padding(bits, pos, payload_len)
    return np.array(out, dtype=np.int64)


def _zstd_stream(r, what, limit, count, budget):
    """A ZSTD stream after its count and coding: symbol bytes, payload length, one zstd frame of count x width bytes."""
    width = r.u8()
    if width not in (1, 2, 4):
        raise CpkError("%s: zstd symbol width %d bytes (1, 2 or 4)" % (what, width))
    payload_len = _payload_length(r, what)
    size = count * width
    if count > MAX_ELEMENTS or size > MAX_ELEMENTS or size > payload_len * MAX_ZSTD_RATIO:
        raise CpkError("%s: %d symbols of %d bytes cannot come from a %d-byte zstd frame" % (what, count, width, payload_len))
    if budget[0] + size > budget[1]:
        raise CpkError("%s: decompressing %d bytes would exceed the decoder's limit of %d bytes" % (what, size, budget[1]))
    payload = r.take(payload_len, "a zstd frame")
    if len(payload) < 5 or payload[:4] != ZSTD_MAGIC:
        raise CpkError("%s: the payload does not start with a zstd frame header" % what)
    if payload[4] & 0x03:
        raise CpkError("%s: the zstd frame names a dictionary; the format uses none" % what)
    if not payload[4] & 0xE0:
        raise CpkError("%s: the zstd frame does not declare its content size" % what)
    try:
        import zstandard
    except ImportError:
        raise CpkError("%s: this file was written with entropy=zstd and decoding it needs the zstandard module: "
                       "pip install zstandard (or apt-get install python3-zstandard)" % what)
    try:
        if zstandard.frame_content_size(payload) != size:
            raise CpkError("%s: the zstd frame does not declare the stream's %d bytes" % (what, size))
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        raw = decompressor.decompress(payload)
        ended, rest = decompressor.eof, decompressor.unused_data
    except zstandard.ZstdError as e:
        raise CpkError("%s: the zstd frame is damaged: %s" % (what, e))
    if len(raw) != size or not ended or rest:
        raise CpkError("%s: the zstd payload is not exactly one frame of %d bytes" % (what, size))
    symbols = np.frombuffer(raw, dtype={1: "<u1", 2: "<u2", 4: "<u4"}[width]).astype(np.int64)
    if count and int(symbols.max()) >= limit:
        raise CpkError("%s: a symbol is not below %d" % (what, limit))
    return symbols


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
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number, value):
    return _varint(number << 3) + _varint(value & 0xFFFFFFFFFFFFFFFF)


def _tensor_proto(name, data_type, dims, raw):
    out = b"".join(_int_field(1, d) for d in dims)
    return out + _int_field(2, data_type) + _field(8, name.encode("utf-8")) + _field(9, raw)


def _raw(patterns, bits):
    patterns = patterns.astype(np.uint64)
    if bits == 4:
        nibbles = patterns.astype(np.uint8)
        if len(nibbles) % 2:
            nibbles = np.append(nibbles, np.uint8(0))
        return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    dtype = {8: "<u1", 16: "<u2", 32: "<u4"}[bits]
    return patterns.astype(dtype).tobytes()


def _tensor_section(r, names, budget):
    name = r.name()
    target = r.u8()
    if target not in (0, 1):
        raise CpkError("tensor '%s' has unknown target %d" % (name, target))
    if name in names:
        raise CpkError("tensor '%s' is defined twice" % name)
    names.add(name)
    data_type = r.u8()
    bits = ELEMENT_BITS.get(data_type)
    if bits is None:
        raise CpkError("tensor '%s' has data type %d, which the format does not code" % (name, data_type))
    rank = r.u8()
    if rank > 32:
        raise CpkError("tensor '%s' has rank %d" % (name, rank))
    dims = [r.u64() for _ in range(rank)]
    elements = 1
    for d in dims:
        if d > MAX_ELEMENTS:
            raise CpkError("tensor '%s' has dimension %d" % (name, d))
        elements *= d
        if elements > MAX_ELEMENTS:
            raise CpkError("tensor '%s' has more than %d elements" % (name, MAX_ELEMENTS))
    indices_name, indices_form = None, 0
    if target == 1:
        indices_name = r.name()
        indices_form = r.u8()
        if indices_form not in (0, 1):
            raise CpkError("sparse tensor '%s' has unknown indices form %d" % (name, indices_form))
    layout = r.u8()
    background, width, stride = 0, 0, 0
    rows = dims[0] if rank >= 2 else 1
    if layout in (1, 2):
        background = r.u32()
        if bits < 32 and background >= 1 << bits:
            raise CpkError("tensor '%s' has background %d wider than %d bits" % (name, background, bits))
    if layout == 1:
        width = r.u8()
        if not 1 <= width <= 16:
            raise CpkError("tensor '%s' has gap width %d" % (name, width))
    elif layout == 2:
        stride = r.u32()
        if elements == 0 or stride >= elements // rows:
            raise CpkError("tensor '%s' has stride %d for rows of %d elements" % (name, stride, elements // rows if elements else 0))
    elif layout != 0:
        raise CpkError("tensor '%s' has unknown layout %d" % (name, layout))
    if target == 1 and (layout == 0 or background != 0):
        raise CpkError("sparse tensor '%s' must use the sparse or masked layout with background 0" % name)
    if budget[0] + (elements * bits + 7) // 8 > budget[1]:
        raise CpkError("decoding tensor '%s' would exceed the decoder's limit of %d bytes" % (name, budget[1]))
    mode = r.u8()
    table = None
    if mode == 1:
        if bits < 8:
            raise CpkError("tensor '%s' has a value table for %d-bit elements" % (name, bits))
        entries = r.u32()
        if not 1 <= entries <= 1 << 16:
            raise CpkError("tensor '%s' has a value table of %d entries" % (name, entries))
        size = bits // 8
        table = np.frombuffer(r.take(entries * size, "a value table"), dtype={1: "<u1", 2: "<u2", 4: "<u4"}[size]).astype(np.int64)
    elif mode != 0:
        raise CpkError("tensor '%s' has unknown value mode %d" % (name, mode))
    limit = len(table) if table is not None else 1 << bits
    values = _stream(r, name + " values", limit, elements if layout == 0 else None, budget)
    if table is not None:
        values = table[values]
    if layout == 0:
        dense = values
    elif layout == 2:
        entries = len(values)
        if entries > elements:
            raise CpkError("tensor '%s' has %d values for %d elements" % (name, entries, elements))
        if (values == background).any():
            raise CpkError("tensor '%s': a masked value is the background" % name)
        positions = _mask(r, name, elements, rows, stride, entries)
        if target == 0:
            dense = np.full(elements, background, dtype=np.int64)
            dense[positions] = values
    else:
        entries = len(values)
        if entries > elements or elements > (entries + 1) << width:
            raise CpkError("tensor '%s': %d entries cannot describe %d elements with %d-bit gaps" % (name, entries, elements, width))
        gaps = _stream(r, name + " gaps", 1 << width, entries, budget)
        positions = np.cumsum(gaps + 1) - 1
        last = int(positions[-1]) if entries else -1
        if entries and last >= elements:
            raise CpkError("tensor '%s': an entry falls past its %d elements" % (name, elements))
        if elements - 1 - last >= 1 << width:
            raise CpkError("tensor '%s' leaves %d trailing elements, more than a %d-bit gap covers" % (name, elements - 1 - last, width))
        if target == 1:
            keep = values != 0
            values, positions = values[keep], positions[keep]
        else:
            dense = np.full(elements, background, dtype=np.int64)
            dense[positions] = values
    if r.remaining():
        raise CpkError("tensor '%s' has %d bytes after its streams" % (name, r.remaining()))
    if target == 0:
        tensor = _tensor_proto(name, data_type, dims, _raw(dense, bits))
        budget[0] += len(tensor)
        return _field(7, _field(5, tensor))
    stored = len(values)
    values_proto = _tensor_proto(name, data_type, [stored], _raw(values, bits))
    if indices_form == 0:
        index = positions.astype("<i8")
        index_dims = [stored]
    else:
        coordinates = np.array(np.unravel_index(positions, dims) if stored else np.zeros((rank, 0)), dtype=np.int64).T
        index = coordinates.astype("<i8")
        index_dims = [stored, rank]
    indices_proto = _tensor_proto(indices_name, 7, index_dims, index.tobytes())
    sparse = _field(1, values_proto) + _field(2, indices_proto) + b"".join(_int_field(3, d) for d in dims)
    budget[0] += len(sparse)
    return _field(7, _field(15, sparse))


def decode(data, max_decoded_bytes=DEFAULT_MAX_DECODED_BYTES):
    """The ONNX bytes of a packed model; raises CpkError when the file cannot be fully verified."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise CpkError("not a packed model (.cpk): the file does not start with the format's magic bytes")
    r = _Reader(data, len(MAGIC), len(data))
    try:
        major, minor, sections, length = r.u16(), r.u16(), r.u32(), r.u64()
    except CpkError:
        raise CpkError("truncated: the header is incomplete")
    if major != 1:
        raise CpkError("format version %d.%d is not supported; this decoder reads 1.x" % (major, minor))
    if length != len(data):
        raise CpkError("packed model is %d bytes but its header declares %d%s" % (
            len(data), length, " (truncated)" if length > len(data) else ""))
    if not 1 <= sections <= MAX_SECTIONS:
        raise CpkError("section count %d outside [1, %d]" % (sections, MAX_SECTIONS))
    table_end = HEADER_BYTES + sections * ENTRY_BYTES
    if table_end + 4 > len(data):
        raise CpkError("truncated: shorter than its %d-entry section table" % sections)
    expected = table_end + 4
    entries = []
    for i in range(sections):
        kind, flags, offset, size, crc, reserved = struct.unpack_from("<IIQQII", data, HEADER_BYTES + i * ENTRY_BYTES)
        if reserved:
            raise CpkError("section %d has a non-zero reserved field" % i)
        if offset != expected:
            raise CpkError("section %d starts at %d, expected %d" % (i, offset, expected))
        if size > len(data) - offset:
            raise CpkError("section %d runs past the end of the file" % i)
        entries.append((kind, flags, offset, size, crc))
        expected = offset + size
    if struct.unpack_from("<I", data, table_end)[0] != crc32c(data[:table_end]):
        raise CpkError("the header's CRC32C does not match: the header or section table is damaged")
    if expected != len(data):
        raise CpkError("the sections end at %d but the file has %d bytes" % (expected, len(data)))
    for i, (kind, flags, offset, size, crc) in enumerate(entries):
        if crc32c(data[offset:offset + size]) != crc:
            raise CpkError("section %d fails its CRC32C check: the file is damaged" % i)
    kind, flags, offset, size, _ = entries[0]
    if kind != 1:
        raise CpkError("the first section is of kind %d, not the graph (1)" % kind)
    if flags & ~1:
        raise CpkError("the graph section has unknown flags %d" % flags)
    if flags & 1:
        g = _Reader(data, offset, offset + size)
        inflated = g.u64()
        if inflated > (size - 8) * 1032 + 64 or inflated > max_decoded_bytes:
            raise CpkError("the graph declares %d inflated bytes from %d compressed bytes" % (inflated, size - 8))
        d = zlib.decompressobj()
        try:
            graph = d.decompress(data[offset + 8:offset + size], inflated + 1)
        except zlib.error as e:
            raise CpkError("the graph's zlib stream is damaged: %s" % e)
        if len(graph) != inflated or not d.eof or d.unused_data or d.unconsumed_tail:
            raise CpkError("the graph's zlib stream does not inflate to exactly the declared %d bytes" % inflated)
    else:
        graph = data[offset:offset + size]
    budget = [len(graph), max_decoded_bytes]
    names = set()  # the graph's own initializer names are checked by whatever parses the result
    out = [graph]
    for i in range(1, sections):
        kind, flags, offset, size, _ = entries[i]
        if kind != 2 or flags:
            raise CpkError("section %d: kind %d flags %d is not a tensor section" % (i, kind, flags))
        try:
            out.append(_tensor_section(_Reader(data, offset, offset + size), names, budget))
        except CpkError as e:
            raise CpkError("section %d: %s" % (i, e))
    return b"".join(out)


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description="Decode a Condense packed model (.cpk) into ONNX (numpy only).")
    parser.add_argument("model", help="the packed model")
    parser.add_argument("-o", "--output", required=True, help="where to write the ONNX model")
    args = parser.parse_args(argv)
    try:
        with open(args.model, "rb") as f:
            packed = f.read()
        onnx = decode(packed)
    except (OSError, CpkError) as e:
        print("Cannot decode %s: %s" % (args.model, e), file=sys.stderr)
        return 2
    with open(args.output, "wb") as f:
        f.write(onnx)
    print("Decoded %s (%d bytes) into %s (%d bytes)" % (args.model, len(packed), args.output, len(onnx)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

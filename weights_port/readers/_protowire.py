"""The protobuf wire format and TensorFlow's tensor-bundle index (a LevelDB-style table), read in plain Python.

A SavedModel's ``keras_metadata.pb`` and its ``variables/variables.index`` are read
without TensorFlow and without generated protobuf classes: messages are decoded field by
field (varints, fixed32/64, length-delimited), every length is checked against the bytes
that remain, and anything malformed is a ``KerasFileError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .._errors import KerasFileError

__all__ = ["Fields", "decode", "integer", "messages", "read_table", "text", "varint"]

Fields = dict[int, list[int | bytes]]
"""A decoded message: field number → values (ints for varint/fixed fields, bytes for length-delimited)."""

_MAX_DEPTH = 64


def varint(data: bytes, position: int, what: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise KerasFileError(f"{what}: a damaged protobuf varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def decode(data: bytes, what: str) -> Fields:
    """One message's fields. Unknown wire types (groups) are refused: TensorFlow's protos use none."""
    fields: Fields = {}
    position = 0
    while position < len(data):
        key, position = varint(data, position, what)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, position = varint(data, position, what)
        elif wire == 1:
            if position + 8 > len(data):
                raise KerasFileError(f"{what}: a truncated protobuf field")
            value = struct.unpack_from("<Q", data, position)[0]
            position += 8
        elif wire == 2:
            length, position = varint(data, position, what)
            if length > len(data) - position:
                raise KerasFileError(f"{what}: a protobuf field claims {length} bytes, {len(data) - position} remain")
            value = data[position:position + length]
            position += length
        elif wire == 5:
            if position + 4 > len(data):
                raise KerasFileError(f"{what}: a truncated protobuf field")
            value = struct.unpack_from("<I", data, position)[0]
            position += 4
        else:
            raise KerasFileError(f"{what}: protobuf wire type {wire} is not one TensorFlow writes")
        fields.setdefault(number, []).append(value)
    return fields


def text(fields: Fields, number: int, what: str, default: str = "") -> str:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, bytes):
        raise KerasFileError(f"{what}: field {number} is not text")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise KerasFileError(f"{what}: field {number} is not UTF-8 text") from None


def integer(fields: Fields, number: int, what: str, default: int = 0) -> int:
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise KerasFileError(f"{what}: field {number} is not a number")
    return value


def messages(fields: Fields, number: int, what: str) -> list[Fields]:
    out = []
    for value in fields.get(number, []):
        if not isinstance(value, bytes):
            raise KerasFileError(f"{what}: field {number} is not a message")
        out.append(decode(value, what))
    return out


# --------------------------------------------------------------------------- the tensor-bundle index

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48


@dataclass(frozen=True)
class _Handle:
    offset: int
    size: int


def _handle(data: bytes, position: int, what: str) -> tuple[_Handle, int]:
    offset, position = varint(data, position, what)
    size, position = varint(data, position, what)
    return _Handle(offset, size), position


def _block(table: bytes, handle: _Handle, what: str) -> bytes:
    end = handle.offset + handle.size
    if handle.offset < 0 or end + 5 > len(table):
        raise KerasFileError(f"{what}: a table block lies outside the file")
    if table[end] != 0:
        raise KerasFileError(f"{what}: a compressed table block (TensorFlow writes none)")
    return table[handle.offset:end]


def _entries(block: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise KerasFileError(f"{what}: a table block too short for its restart count")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * restarts
    if restarts > len(block) // 4 or limit < 0:
        raise KerasFileError(f"{what}: a damaged table block")
    position, key = 0, b""
    while position < limit:
        shared, position = varint(block, position, what)
        unshared, position = varint(block, position, what)
        size, position = varint(block, position, what)
        if shared > len(key) or position + unshared + size > limit:
            raise KerasFileError(f"{what}: a damaged table entry")
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        yield key, block[position:position + size]
        position += size


def read_table(table: bytes, what: str) -> dict[str, bytes]:
    """Every (key, value) of a LevelDB-style table file (TensorFlow's ``variables.index``)."""
    if len(table) < _FOOTER or struct.unpack_from("<Q", table, len(table) - 8)[0] != _TABLE_MAGIC:
        raise KerasFileError(f"{what}: not a TensorFlow tensor-bundle index (no table footer)")
    footer = table[len(table) - _FOOTER:]
    _, position = _handle(footer, 0, what)
    index, _ = _handle(footer, position, what)
    out: dict[str, bytes] = {}
    for _, value in _entries(_block(table, index, what), what):
        data_handle, _ = _handle(value, 0, what)
        for key, entry in _entries(_block(table, data_handle, what), what):
            try:
                out[key.decode("utf-8")] = entry
            except UnicodeDecodeError:
                raise KerasFileError(f"{what}: a checkpoint key that is not UTF-8") from None
    return out


def depth_checked(depth: int, what: str) -> None:
    if depth > _MAX_DEPTH:
        raise KerasFileError(f"{what}: objects nested more than {_MAX_DEPTH} deep")

"""Avro encoding in a standard frame, so any Avro library can read what we write.

We write Avro single-object encoding: 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO fingerprint
(little-endian), then the binary body. We read that frame, and also the Confluent frame (0x00, a
4-byte big-endian schema id, the body) for schema ids registered with the codec. The writer schema is
found by fingerprint or id and resolved against our reader schema, so a producer one schema version
ahead or behind is still understood (a field added with a default).
"""

from __future__ import annotations

import io
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

AVRO_DIR = Path(__file__).resolve().parent / "avro"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
SINGLE_OBJECT_HEADER = 10  # magic + 8-byte fingerprint
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER = 5  # magic + 4-byte schema id

Schema = dict[str, Any]


class DecodeError(Exception):
    """Bytes that are not a record we can read; the message says why (it goes to the DLQ)."""


def load_schema(name: str) -> Schema:
    """A parsed schema from schemas/avro/<name>.avsc."""
    return _load(name)


@cache
def _load(name: str) -> Schema:
    parsed = parse_schema(json.loads((AVRO_DIR / f"{name}.avsc").read_text()))
    if not isinstance(parsed, dict):
        raise TypeError(f"{name}.avsc must hold one record schema")
    return parsed


def schema_fingerprint(schema: Schema) -> bytes:
    """CRC-64-AVRO of the canonical form, in the byte order single-object encoding uses."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class AvroCodec:
    """Encodes with one schema; decodes anything written with a schema it knows."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.fingerprint = schema_fingerprint(schema)
        self._header = SINGLE_OBJECT_MAGIC + self.fingerprint
        self._writers: dict[bytes, Schema] = {self.fingerprint: schema}
        self._confluent: dict[int, Schema] = {}

    @classmethod
    def named(cls, name: str) -> AvroCodec:
        """The codec of schemas/avro/<name>.avsc, reading its earlier versions (avro/history/) too."""
        codec = cls(load_schema(name))
        for earlier in sorted((AVRO_DIR / "history").glob(f"{name}.v*.avsc")):
            parsed = parse_schema(json.loads(earlier.read_text()))
            if isinstance(parsed, dict):
                codec.register_writer(parsed)
        return codec

    def register_writer(self, schema: Schema, confluent_id: int | None = None) -> None:
        """Accept records written with another version of this schema (and its Confluent id)."""
        self._writers[schema_fingerprint(schema)] = schema
        if confluent_id is not None:
            self._confluent[confluent_id] = schema

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        try:
            schemaless_writer(buffer, self.schema, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"record does not match {self.schema['name']}: {exc}") from exc
        return buffer.getvalue()

    def reads(self, data: bytes) -> bool:
        """Whether `data` was written with a schema this codec knows (its frame names the writer),
        so a topic carrying several record kinds is read by the codec of each record's kind."""
        try:
            self._writer_for(data)
        except DecodeError:
            return False
        return True

    def decode(self, data: bytes) -> dict[str, Any]:
        writer, body = self._writer_for(data)
        try:
            stream = io.BytesIO(body)
            record = schemaless_reader(stream, writer, self.schema)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise DecodeError(f"corrupt or incompatible Avro body: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError("the body is not a record")
        if stream.tell() != len(body):
            raise DecodeError(f"{len(body) - stream.tell()} trailing bytes after the record")
        return record

    def writer_of(self, data: bytes) -> tuple[bytes, bytes]:
        """The fingerprint of the writer schema the frame names and the Avro body after the frame,
        without decoding it (for a reader that hands bodies on, e.g. to ClickHouse's own Avro
        input); DecodeError when the frame or its schema is unknown."""
        if data.startswith(SINGLE_OBJECT_MAGIC) and len(data) >= SINGLE_OBJECT_HEADER:
            fingerprint_bytes = data[2:SINGLE_OBJECT_HEADER]
            if fingerprint_bytes not in self._writers:
                raise DecodeError(f"unknown schema fingerprint {fingerprint_bytes.hex()}")
            return fingerprint_bytes, data[SINGLE_OBJECT_HEADER:]
        writer, body = self._writer_for(data)
        return schema_fingerprint(writer), body

    def writer_schema(self, fingerprint: bytes) -> Schema:
        """A writer schema this codec knows, by fingerprint (KeyError if none)."""
        return self._writers[fingerprint]

    def _writer_for(self, data: bytes) -> tuple[Schema, bytes]:
        if data.startswith(SINGLE_OBJECT_MAGIC) and len(data) >= SINGLE_OBJECT_HEADER:
            fingerprint_bytes = data[2:SINGLE_OBJECT_HEADER]
            writer = self._writers.get(fingerprint_bytes)
            if writer is None:
                raise DecodeError(f"unknown schema fingerprint {fingerprint_bytes.hex()}")
            return writer, data[SINGLE_OBJECT_HEADER:]
        if data.startswith(CONFLUENT_MAGIC) and len(data) >= CONFLUENT_HEADER:
            (schema_id,) = struct.unpack(">I", data[1:CONFLUENT_HEADER])
            writer = self._confluent.get(schema_id)
            if writer is None:
                raise DecodeError(f"unknown Confluent schema id {schema_id}")
            return writer, data[CONFLUENT_HEADER:]
        raise DecodeError("not Avro single-object or Confluent framed (bad magic bytes)")

"""The registry file's bytes: one model per line, with checksums and an index section.

Layout (compact UTF-8 JSON from the C encoder, so the file is valid JSON for ``jq`` and
diffs line-wise)::

    {"schema_version":1,"generation":7,"updated_at":...,"last_scan_at":...,"roots":[...],
     "model_count":2,"checksum":"<hex>","index_checksum":"<hex>","index":{      <- line 1
    "<id>":{...index row...},                                                  <- one per model
    "<id>":{...index row...}
    },"models":{
    "<id>":{...model entry...},                                                <- one per model
    "<id>":{...model entry...}
    }}

Models and index rows are sorted by id and both sections hold every model. ``checksum`` is
the SHA-256 of the concatenated SHA-256 digests of the model lines (each line without its
separating comma and newline), ``index_checksum`` the same over the index lines; a file that
is torn, truncated or edited in place fails them and is treated as corrupt (the store then
recovers from the newest valid backup). Per-line digests let a writer re-hash only the lines
that changed. The ``index`` rows (:func:`registry.rowcodec.index_row`) are a derived cache of
fields of each entry, so a scan can look models up without decoding any entry.

A file that is valid JSON but has no ``checksum`` in its first line (an older, indented
registry, or one a person edited and removed the checksum from) is read through the general
``json.loads`` + :meth:`RegistryDoc.from_dict` path and written back in this layout.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from registry.entries import SCHEMA_VERSION
from registry.errors import StoreError
from registry.modelmap import LazyLoadError, LineSet, ModelMap
from registry.records import RegistryDoc
from registry.rowcodec import IndexRow, checksum, digest_of, dumps, line_key
from registry.spill import Line, line_bytes, line_size

INDEX_OPEN = b',"index":{'
MIDDLE = b'\n},"models":{\n'
END = b"\n}}\n"
SEPARATOR = b",\n"


class InvalidRegistryError(ValueError):
    """Bytes that are not a registry document; ``str()`` says why in one line."""


def _head(doc: RegistryDoc, count: int, model_sum: str, index_sum: str) -> dict[str, Any]:
    return {"schema_version": doc.schema_version, "generation": doc.generation,
            "updated_at": doc.updated_at, "last_scan_at": doc.last_scan_at,
            "roots": list(doc.roots), "model_count": count, "checksum": model_sum,
            "index_checksum": index_sum}


CHUNK_BYTES = 1 << 20
"""About how many bytes :meth:`Encoding.chunks` joins into one chunk."""


@dataclass(frozen=True, slots=True)
class Encoding:
    """The on-disk bytes of a document, produced in chunks (never as one object).

    Attributes:
        first_line: the file's first line without its newline (header and index opening).
        size: the file's length in bytes.
        index_lines: the index lines, sorted by id.
        model_lines: the model lines, sorted by id (spilled ones are read as they are
            written, see :mod:`registry.spill`).
    """

    first_line: bytes
    size: int
    index_lines: list[bytes]
    model_lines: list[Line]

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The file content in order, as pieces of about ``chunk_bytes`` bytes.

        Args:
            chunk_bytes: join lines until a piece holds at least this many bytes.

        Yields:
            Consecutive pieces; their concatenation is the file (:func:`encode`).
        """
        parts: list[bytes] = [self.first_line, b"\n"]
        held = len(self.first_line) + 1
        for lines, closing in ((self.index_lines, MIDDLE), (self.model_lines, END)):
            for number, kept in enumerate(lines):
                if number:
                    parts.append(SEPARATOR)
                line = line_bytes(kept)
                parts.append(line)
                held += len(line)
                if held >= chunk_bytes:
                    yield b"".join(parts)
                    parts, held = [], 0
            parts.append(closing)
        yield b"".join(parts)


def _section_size(lines: list[bytes] | list[Line]) -> int:
    return sum(map(line_size, lines)) + len(SEPARATOR) * max(len(lines) - 1, 0)


def encoding(doc: RegistryDoc) -> Encoding:
    """The on-disk form of ``doc``, to write chunk by chunk (decoded entries are flushed
    into their lines first).

    Args:
        doc: the document.

    Returns:
        Its :class:`Encoding` (the layout of the module docstring; the lines are shared with
        ``doc.models``, nothing is copied).
    """
    index_lines, index_digests, model_lines, model_digests = doc.models.encoded()
    head = _head(doc, len(model_lines), checksum(model_digests), checksum(index_digests))
    first_line = dumps(head)[:-1] + INDEX_OPEN
    size = (len(first_line) + 1 + _section_size(index_lines) + len(MIDDLE)
            + _section_size(model_lines) + len(END))
    return Encoding(first_line, size, index_lines, model_lines)


def encode(doc: RegistryDoc) -> bytes:
    """The on-disk bytes of ``doc`` as one object (see :func:`encoding` to stream them).

    Args:
        doc: the document.

    Returns:
        The file content in the layout of the module docstring.
    """
    return b"".join(encoding(doc).chunks())


def _split(body: bytes) -> list[bytes]:
    return body.split(SEPARATOR) if body else []


def _parse_header(line: bytes) -> dict[str, Any] | None:
    """The header fields of a first line in our layout, or ``None`` for another layout."""
    if not line.startswith(b'{"schema_version":') or not line.endswith(INDEX_OPEN):
        return None
    try:
        head = json.loads(line[:-len(INDEX_OPEN)] + b"}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"not valid JSON: header: {exc}"
        raise InvalidRegistryError(msg) from exc
    if not isinstance(head, dict) or "checksum" not in head:
        return None
    if head.get("schema_version") != SCHEMA_VERSION:
        msg = (f"does not match the registry schema: unsupported schema_version "
               f"{head.get('schema_version')!r} (this build reads {SCHEMA_VERSION})")
        raise InvalidRegistryError(msg)
    return head


def _verified(body: bytes, head: dict[str, Any], key: str,
              problem: str) -> tuple[list[bytes], list[bytes]]:
    """The lines of a section and their digests, checked against ``head[key]`` and the count.

    Raises:
        InvalidRegistryError: ``problem`` (a torn or edited file).
    """
    lines = _split(body)
    digests = [digest_of(line) for line in lines]
    if len(lines) != head.get("model_count") or checksum(digests) != head.get(key):
        msg = f"{problem} (torn or edited file)"
        raise InvalidRegistryError(msg)
    return lines, digests


def _index(head: dict[str, Any], body: bytes) -> tuple[dict[str, IndexRow],
                                                         dict[str, bytes], dict[str, bytes]]:
    lines, digests = _verified(body, head, "index_checksum",
                               "index section does not match its checksum")
    try:
        rows = json.loads(b"{" + body + b"}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"not valid JSON: index: {exc}"
        raise InvalidRegistryError(msg) from exc
    if not isinstance(rows, dict) or len(rows) != len(lines):
        msg = "index section has duplicate or missing ids"
        raise InvalidRegistryError(msg)
    ids = list(rows)
    return rows, dict(zip(ids, lines, strict=True)), dict(zip(ids, digests, strict=True))


def _models(head: dict[str, Any], body: bytes, ids: list[str]) -> LineSet:
    lines, digests = _verified(body, head, "checksum", "model lines do not match the checksum")
    try:
        keys = [line_key(line) for line in lines]
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"does not match the registry schema: {exc}"
        raise InvalidRegistryError(msg) from exc
    if keys != ids:
        msg = "the index and the models name different ids"
        raise InvalidRegistryError(msg)
    return dict(zip(keys, lines, strict=True)), dict(zip(keys, digests, strict=True))


def _doc(head: dict[str, Any], models: ModelMap) -> RegistryDoc:
    try:
        return RegistryDoc(models=models, generation=int(head["generation"]),
                           updated_at=str(head.get("updated_at") or ""),
                           roots=[str(r) for r in head.get("roots") or []],
                           last_scan_at=head.get("last_scan_at"))
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"does not match the registry schema: header: {exc}"
        raise InvalidRegistryError(msg) from exc


def _general(data: bytes) -> RegistryDoc:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"not valid JSON: {exc}"
        raise InvalidRegistryError(msg) from exc
    try:
        return RegistryDoc.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        msg = f"does not match the registry schema: {detail}"
        raise InvalidRegistryError(msg) from exc


def decode(data: bytes) -> RegistryDoc:
    """Parse and check registry bytes (entries are decoded later, on access).

    Args:
        data: the file's content.

    Returns:
        The document.

    Raises:
        InvalidRegistryError: empty, not UTF-8 JSON, a checksum mismatch, or not matching
            the document model (including an unknown ``schema_version``).
    """
    if not data.strip():
        msg = "file is empty"
        raise InvalidRegistryError(msg)
    first = data.find(b"\n")
    head = _parse_header(data[:first]) if first > 0 else None
    if head is None:
        return _general(data)
    middle = data.find(MIDDLE, first)
    if middle < 0 or not data.endswith(END) or middle + len(MIDDLE) > len(data) - len(END) + 1:
        msg = "file is truncated (torn write)"
        raise InvalidRegistryError(msg)
    rows, row_lines, row_digests = _index(head, data[first + 1:middle])
    lines = _models(head, data[middle + len(MIDDLE):len(data) - len(END)], list(rows))
    return _doc(head, ModelMap.from_encoded(rows, row_lines, row_digests, lines))


def _rest_loader(handle: IO[bytes], head: dict[str, Any], ids: list[str],
                 path: Path) -> LineSet:
    try:
        with handle:
            rest = handle.read()
    except OSError as exc:
        raise LazyLoadError("cannot read the registry", path=str(path),
                            reason=exc.strerror or str(exc)) from exc
    if not rest.endswith(END):
        raise LazyLoadError("the registry file is truncated", path=str(path))
    try:
        return _models(head, rest[:len(rest) - len(END)], ids)
    except InvalidRegistryError as exc:
        raise LazyLoadError("the registry file does not verify", path=str(path),
                            reason=str(exc)) from exc


def read_header(path: Path) -> dict[str, Any] | None:
    """The header fields of the registry file at ``path`` (its first line only).

    Returns:
        The fields, or ``None`` when the file is missing, unreadable, in another layout or
        its first line does not decode.
    """
    try:
        with path.open("rb") as handle:
            first = handle.readline().rstrip(b"\n")
    except OSError:
        return None
    try:
        return _parse_header(first)
    except InvalidRegistryError:
        return None


def read_index(path: Path) -> RegistryDoc | None:
    """Read the header and index rows only; entries are read from the same file on access.

    Args:
        path: the registry file.

    Returns:
        The document, or ``None`` when the file is not in this layout or does not verify
        (the caller then does a full load, with recovery).

    Raises:
        FileNotFoundError: no registry file.
        StoreError: the file cannot be read.
    """
    try:
        handle = path.open("rb")  # kept open for the loader: the same inode as the index
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError("cannot read the registry", path=str(path),
                         reason=exc.strerror or str(exc)) from exc
    try:
        head = _parse_header(handle.readline().rstrip(b"\n"))
        if head is None:
            handle.close()
            return None
        lines: list[bytes] = []
        for raw in handle:
            if raw == MIDDLE[1:]:
                break
            lines.append(raw.rstrip(b"\n").removesuffix(b","))
        else:
            handle.close()
            return None
        body = SEPARATOR.join(lines) if lines != [b""] else b""
        rows, row_lines, row_digests = _index(head, body)
    except InvalidRegistryError:
        handle.close()
        return None
    except OSError as exc:
        handle.close()
        raise StoreError("cannot read the registry", path=str(path),
                         reason=exc.strerror or str(exc)) from exc
    except BaseException:
        handle.close()
        raise
    ids = list(rows)
    models = ModelMap.from_encoded(rows, row_lines, row_digests, None,
                                   loader=lambda: _rest_loader(handle, head, ids, path))
    weakref.finalize(models, handle.close)
    try:
        return _doc(head, models)
    except InvalidRegistryError:
        handle.close()
        return None


__all__ = ["CHUNK_BYTES", "Encoding", "InvalidRegistryError", "decode", "encode", "encoding",
           "read_index"]

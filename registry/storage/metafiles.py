"""Per-model metadata files: their compact JSON form and a batched, atomic write.

``<registry dir>/<model_id>/<model_id>_metadata.json`` holds one model's current state and
its history (:func:`metadata_entry`): the seed's model-level fields, tags, aliases, the
description, the small scalars of its metadata (:func:`registry.storage.view.compact_metadata`),
the current hash and findings, then one line per version (number, hash, time, kind of
change, size), its stored relationships and its history events. Version metadata,
structure snapshots and family links are not repeated here: the store holds them and
``show``, ``diff`` and ``deps`` print them. A typical model's file fits in one 4 KiB block.

These files are *derived*: the database is the durable record, the store rewrites a missing
(or empty) one on its next write and ``verify`` reports a missing, unreadable or stale one.
Each file is replaced atomically (unique temp file in the same directory, then ``rename``),
so a reader sees the old copy or the new one, never a partial one. None is fsynced, nor is
its directory, and never a whole-machine ``sync``: after a power loss a file may be stale,
empty or missing, which ``verify`` reports and the next write of that model repairs; a
crash leaves at worst a temp file, which the next write of that model sweeps. Every temp
file is written (each body as it is produced, so the bodies are never all in memory at
once) before the first rename.

The body is indented for humans, but only at the top level and for the items of lists of
objects (versions, history), each item compact on its own line: readable, diffable, and
produced by the C JSON encoder (``indent=`` would force the slow pure-Python encoder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from registry.storage.atomic import DIR_MODE, make_dirs, store_error, write_temp
from registry.storage.view import compact_metadata

MODEL_KEYS = ("model_id", "model_name", "file_path", "file_size_bytes", "registered_at",
              "updated_at", "version", "state", "tags", "aliases", "description")
"""Model-level fields copied as they are, in this order (the seed's names)."""

VERSION_KEYS = ("version", "sha256", "registered_at", "change", "file_size_bytes")
"""Fields of each version's line (plus ``file_path`` where it differs from the model's,
``findings`` when there are any and ``pruned`` when true)."""


_lenient_utf8 = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=str).encode
_lenient_ascii = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "), default=str).encode


def _lenient(value: Any) -> str:
    """JSON text of ``value`` that encodes to UTF-8: a string with lone surrogates (a file
    name that is not UTF-8) is written with ``\\u`` escapes, which read back unchanged."""
    text = _lenient_utf8(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _lenient_ascii(value)
    return text


def _utf8(text: str) -> bytes:
    """UTF-8 of JSON text; a lone surrogate (a non-UTF-8 file name) becomes its ``\\uXXXX``
    escape, which JSON decodes back to the same string."""
    return text.encode("utf-8", "backslashreplace")


def readable_chunks(data: dict[str, Any], *, chunk: int = 1 << 16) -> Iterator[bytes]:
    """``data`` in the layout of :func:`metadata_body`, as UTF-8 chunks of about ``chunk``
    characters (for a large document such as a scan summary listing 10,000 changes, which is
    then never held whole in memory). Values JSON cannot encode are written with ``str``.

    Args:
        data: a JSON-ready dict.
        chunk: the size to gather before yielding.

    Yields:
        Consecutive pieces of the document.
    """
    parts: list[str] = ["{\n"]
    size = 0
    for number, (key, value) in enumerate(data.items()):
        parts.append(("" if number == 0 else ",\n") + f"  {_lenient(key)}: ")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts.append("[\n")
            for index, item in enumerate(value):
                text = ("" if index == 0 else ",\n") + "    " + _lenient(item)
                parts.append(text)
                size += len(text)
                if size >= chunk:
                    yield _utf8("".join(parts))
                    parts, size = [], 0
            parts.append("\n  ]")
        else:
            parts.append(_lenient(value))
    parts.append("\n}\n")
    yield _utf8("".join(parts))


def metadata_entry(data: dict[str, Any]) -> dict[str, Any]:
    """The content of one model's metadata file (module docstring), from its JSON form.

    Args:
        data: the entry's ``to_dict()`` form.

    Returns:
        A new JSON-ready dict.
    """
    out: dict[str, Any] = {key: data[key] for key in MODEL_KEYS if key in data}
    out["metadata"] = compact_metadata(data.get("metadata") or {})
    out["sha256"] = data.get("sha256", "")
    out["findings"] = data.get("findings") or []  # of the latest content when it was refused
    if data.get("deleted"):
        out["deleted"] = True
    path = data.get("file_path")
    versions: list[dict[str, Any]] = []
    for record in data.get("versions") or []:
        line = {key: record[key] for key in VERSION_KEYS if key in record}
        if record.get("file_path", path) != path:
            line["file_path"] = record["file_path"]
        if record.get("findings"):
            line["findings"] = record["findings"]
        if record.get("pruned"):
            line["pruned"] = True
        versions.append(line)
    out["versions"] = versions
    out["relationships"] = [rel for rel in data.get("relationships") or []
                            if rel.get("type") != "same_family"]  # a family is a key
    out["history"] = data.get("history") or []
    return out


def metadata_body(data: dict[str, Any]) -> bytes:
    """The metadata file content of one entry (its ``to_dict()`` form), compact.

    Args:
        data: the entry's JSON form.

    Returns:
        UTF-8 JSON of :func:`metadata_entry`: one top-level key per line; lists of objects
        one item per line.
    """
    return b"".join(readable_chunks(metadata_entry(data)))


def _discard(temps: list[str]) -> None:
    for tmp in temps:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:  # pragma: no cover - best effort: the original error matters
            continue


def _make_parent(directory: Path) -> bool:
    """Create a metadata file's directory when missing; whether it was created."""
    try:
        os.mkdir(directory, DIR_MODE)  # noqa: PTH102 - one syscall in the common cases
    except FileExistsError as exc:
        if directory.is_dir():
            return False
        raise store_error(directory, "creating directory", exc) from exc
    except FileNotFoundError:  # missing parents too
        try:
            make_dirs(directory)
        except OSError as exc:
            raise store_error(directory, "creating directory", exc) from exc
    except OSError as exc:
        raise store_error(directory, "creating directory", exc) from exc
    return True


def write_metadata_files(items: Iterable[tuple[Path, bytes]], *,
                         count: int | None = None) -> None:
    """Replace many metadata files atomically, without fsync (module docstring).

    ``items`` may be lazy: each content is written to its temp file as soon as it is
    produced and then dropped, so memory does not grow with the batch (a first scan writes
    thousands of files in one batch).

    Args:
        items: ``(target, content)`` pairs; targets must be distinct.
        count: how many pairs ``items`` yields (unused; kept for callers that know it).

    Raises:
        StoreError: the first failure; files already replaced stay replaced, no temp file
            is left behind (also when producing an item raised another exception, which
            then propagates as it is).
    """
    del count
    # Plain strings, not Path objects: a first scan holds 10,000 of these pairs at once.
    temps: list[tuple[str, str]] = []
    try:
        for path, data in items:
            _make_parent(path.parent)
            temps.append((os.fspath(path), write_temp(path, data, fsync=False)))
    except BaseException:
        _discard([tmp for _path, tmp in temps])
        raise
    for index, (target, tmp) in enumerate(temps):
        try:
            os.replace(tmp, target)  # noqa: PTH105 - the recipe's primitive, named as such
        except OSError as exc:
            _discard([rest for _path, rest in temps[index:]])
            raise store_error(Path(target), "replace", exc) from exc


__all__ = ["MODEL_KEYS", "VERSION_KEYS", "metadata_body", "metadata_entry",
           "readable_chunks", "write_metadata_files"]

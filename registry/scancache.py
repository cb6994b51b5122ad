"""The scan cache: what an unchanged rescan needs, without reading the registry's index.

An unchanged rescan must not read any GNN file, and at 10,000 models even decoding the
registry's index rows (a few MB of JSON, a dict per model) costs more than walking the tree.
So after each reconcile that had to consult the registry, the scanner writes a small derived
file next to it, ``.<registry stem>.scan-cache.json``::

    {"format": 1, "registry": [generation, updated_at], "roots": [...], "total_models": N,
     "files": {"<path>": [size, mtime_ns, inode, device, status, version, id, ...], ...},
     "watched": ["<path>", ...]}

``files`` holds every recorded path the registrar would pass over without reading it when its
``lstat`` matches: all its models plain (not ``removed``, no findings), one recorded stat,
outside the racy window (see :func:`registry.scanio.stat_matches`). ``status`` is
``unchanged`` (the ids are the live models in file order, ``version`` the first one's),
``skipped`` (every model deleted; ``version`` null) or ``not-gnn`` (a candidate such as a
``README.md`` that this scan read and found not to be a GNN model, outside the racy window
when it was read; no ids). One flat list per file keeps decoding
cheap (few containers for the garbage collector to walk). ``watched`` holds the other
recorded paths whose models a vanished file would mark ``removed``.

:func:`unchanged_outcomes` then answers a reconcile without the registry when the cache is
for the registry as it is now (same generation and ``updated_at`` in its first line), every
root was scanned before, discovery listed every directory, every candidate is in ``files`` with
an equal stat, and every cached path below the roots was found. Anything else (a new, changed,
invalid or vanished file, a new root, a missing or stale or unreadable cache) returns
``None`` and the scanner takes its normal path, which is always correct. The cache is never
a source of truth: deleting it only costs the next rescan its shortcut.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import structlog

from registry.atomic import write_atomic
from registry.discovery import Discovery
from registry.docfile import read_header
from registry.errors import StoreError
from registry.records import RegistryDoc
from registry.register_models import DELETED_MESSAGE, NOT_GNN_MESSAGE
from registry.rowcodec import dumps
from registry.scanio import RACY_NS, FileOutcome

NOT_GNN = "not-gnn"
"""Status of a cached candidate that is not a GNN model."""

log = structlog.get_logger(__name__)

FORMAT = 1
"""Version of the cache layout; a cache of another format is ignored."""

def cache_path(registry_path: Path) -> Path:
    """Where the scan cache of the registry at ``registry_path`` lives."""
    return registry_path.with_name(f".{registry_path.stem}.scan-cache.json")


def _registry_key(registry_path: Path) -> list[Any] | None:
    """``[generation, updated_at]`` from the registry file's first line, if it has them."""
    head = read_header(registry_path)
    return None if head is None else [head.get("generation"), head.get("updated_at")]


class _Row(NamedTuple):
    """What the cache needs of one index row (rows are not all held: see :func:`build`)."""

    model_id: str
    stat: tuple[int, ...] | None
    state: str
    deleted: bool
    findings: int
    source_index: int
    version: str


def _compact(model_id: str, row: dict[str, Any]) -> _Row:
    raw = row.get("file_stat")
    stat = tuple(int(v) for v in raw[:5]) if raw else None
    return _Row(model_id, stat, str(row["state"]), bool(row["deleted"]),
                int(row["findings"] or 0), int(row["source_index"]), str(row["version"]))


def _file_entry(rows: list[_Row]) -> tuple[list[Any] | None, bool]:
    """The cache entry of one path's rows (or ``None``) and whether the path is watched."""
    watched = any(not r.deleted and r.state != "removed" for r in rows)
    stats = {r.stat[:4] if r.stat else None for r in rows}
    if len(stats) != 1 or None in stats:
        return None, watched
    if any(r.state == "removed" or r.findings for r in rows):
        return None, watched
    if any(r.stat is not None and r.stat[1] >= r.stat[4] - RACY_NS for r in rows):
        return None, watched  # racy: the next scan re-hashes it
    size, mtime_ns, inode, device = next(iter(stats))  # type: ignore[misc]
    order = sorted(rows, key=lambda r: r.source_index)
    live = [r for r in order if not r.deleted]
    if live:
        return [size, mtime_ns, inode, device, "unchanged", live[0].version,
                *(r.model_id for r in live)], watched
    return [size, mtime_ns, inode, device, "skipped", None, *(r.model_id for r in order)], watched


def not_gnn_files(found: Discovery, outcomes: Sequence[FileOutcome],
                  read_after_ns: int) -> dict[str, list[Any]]:
    """Cache entries for the candidates this pass found not to be GNN models.

    Args:
        found: the pass's discovery.
        outcomes: the pass's outcomes.
        read_after_ns: a time (``time.time_ns()``) before any file of the pass was read; a
            file modified within :data:`~registry.scanio.RACY_NS` of it is left out.

    Returns:
        ``{path: entry}`` to pass to :func:`write`.
    """
    paths = {o.path for o in outcomes if o.status == "skipped" and o.message == NOT_GNN_MESSAGE}
    out: dict[str, list[Any]] = {}
    for candidate in found.files:
        st = candidate.stat
        if candidate.path in paths and st.st_mtime_ns < read_after_ns - RACY_NS:
            out[candidate.path] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, NOT_GNN,
                                   None]
    return out


def build(doc: RegistryDoc, total_models: int,
          extra: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """The cache content for ``doc`` (as loaded from, or just written to, the registry).

    Args:
        doc: the document; its index rows are read, no entry is decoded.
        total_models: its live models (the scan report's count).
        extra: entries for paths that hold no live model (:func:`not_gnn_files`); they
            replace what the rows say of the same path.

    Returns:
        The JSON-ready cache (module docstring).
    """
    grouped: dict[str, list[_Row]] = {}
    for model_id, row in doc.models.rows():  # iterated: a large scan decodes each on demand
        grouped.setdefault(str(row["file_path"]), []).append(_compact(model_id, row))
    files: dict[str, list[Any]] = {}
    watched: set[str] = set()
    for path, rows in grouped.items():
        entry, is_watched = _file_entry(rows)
        if entry is not None:
            files[path] = entry
        elif is_watched:
            watched.add(path)
    for path, entry in (extra or {}).items():
        files[path] = entry
        watched.discard(path)
    return {"format": FORMAT, "registry": [doc.generation, doc.updated_at],
            "roots": list(doc.roots), "total_models": total_models,
            "files": files, "watched": sorted(watched)}


def write(registry_path: Path, doc: RegistryDoc, total_models: int,
          extra: dict[str, list[Any]] | None = None) -> None:
    """Write the scan cache for ``doc``; a failure is logged and otherwise ignored.

    Args:
        registry_path: the registry file ``doc`` was read from or written to.
        doc: the document.
        total_models / extra: see :func:`build`.
    """
    if doc.generation < 1 or not registry_path.parent.is_dir():
        return  # no registry file yet: nothing a later scan could match
    data = dumps(build(doc, total_models, extra))
    try:
        write_atomic(cache_path(registry_path), data, durable=False)
    except StoreError as exc:
        log.warning("scan_cache_not_written", path=str(cache_path(registry_path)),
                    error=str(exc))


def _read(registry_path: Path) -> dict[str, Any] | None:
    try:
        raw = cache_path(registry_path).read_bytes()
        cache = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(cache, dict) or cache.get("format") != FORMAT:
        return None
    if not isinstance(cache.get("files"), dict) or not isinstance(cache.get("watched"), list):
        return None
    if cache.get("registry") != _registry_key(registry_path):
        return None  # written for another state of the registry
    return cache


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a scan builds many small acyclic objects.

    Discovery's candidates, the cache's lists and the outcomes hold no reference cycles, yet
    at 10,000 files their allocation alone sets off dozens of collections (some of them
    full ones over every object of the process). Paused, they cost one young-generation
    pass when collection resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def unchanged_outcomes(registry_path: Path, found: Discovery,
                       roots: Sequence[str]) -> tuple[list[FileOutcome], int] | None:
    """The outcomes of a reconcile that changes nothing, or ``None`` (module docstring).

    Args:
        registry_path: the registry file.
        found: what discovery found under ``roots`` this time.
        roots: the absolute roots scanned.

    Returns:
        ``(outcomes, total_models)`` when every candidate is known unchanged (or deleted and
        untouched) and nothing recorded below the roots vanished; else ``None``.
    """
    if found.unlisted:
        return None
    cache = _read(registry_path)
    if cache is None or not set(roots) <= set(cache.get("roots") or ()):
        return None
    files: dict[str, Any] = cache["files"]
    get = files.get
    outcomes: list[FileOutcome] = []
    add = outcomes.append
    try:
        # The hot loop of an unchanged rescan: one lookup and four comparisons per file.
        for path, (_mode, size, mtime_ns, inode, device) in found.files:
            known = get(path)
            if (known is None or known[0] != size or known[1] != mtime_ns
                    or known[2] != inode or known[3] != device):
                return None
            status = known[4]
            if status == "unchanged":
                add(FileOutcome(path, "unchanged", known[6:], version=known[5]))
            elif status == "skipped":
                add(FileOutcome(path, "skipped", known[6:], message=DELETED_MESSAGE))
            elif status == NOT_GNN:
                add(FileOutcome(path, "skipped", message=NOT_GNN_MESSAGE))
            else:
                return None
        prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
        exact = set(roots)
        below = sum(1 for p in files if p.startswith(prefixes) or p in exact)
        if below != len(outcomes):
            return None  # a cached file below the roots was not found: it vanished
        if any(str(p).startswith(prefixes) or p in exact for p in cache["watched"]):
            return None
        total = int(cache["total_models"])
        outcomes.extend(FileOutcome(p.path, p.status, message=p.message) for p in found.problems)
    except (IndexError, KeyError, TypeError, ValueError):
        return None  # a cache that does not have the expected shape is ignored
    return outcomes, total


__all__ = ["FORMAT", "build", "cache_path", "collector_paused", "unchanged_outcomes", "write"]

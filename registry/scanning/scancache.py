"""The scan cache: what an unchanged rescan needs, without reading the registry's index.

An unchanged rescan must not read any GNN file, and at 10,000 models even decoding the
registry's index rows (a few MB of JSON, a dict per model) costs more than walking the tree.
So after each reconcile that had to consult the registry, the scanner writes a small derived
file next to it, ``.<registry stem>.scan-cache.json``::

    {"format": 3, "registry": [generation, updated_at], "roots": [...], "total_models": N,
     "files": {"<path>": "<size> <mtime_ns> <inode> <device>\t<status>\t<version>\t<id>...",
               ...},
     "watched": ["<path>", ...]}

``files`` holds every recorded path the registrar would pass over without reading it when
its ``lstat`` matches: all its models plain (not ``removed``, no findings), one recorded
stat, outside the racy window (see :func:`registry.scanning.scanio.stat_matches`). ``status`` is
``unchanged`` (the ids are the live models in file order, ``version`` the first one's),
``skipped`` (every model deleted; ``version`` null), ``not-gnn`` (a candidate such as a
``README.md`` that this scan read and found not to be a GNN model, outside the racy window
when it was read; no ids), or ``prose`` (the same for a document that shows GNN only in
fenced code blocks, skipped with its own message). One tab-separated string per file,
starting with its stat (:func:`registry.scanning.scanio.stat_key`), keeps decoding cheap: a JSON
string decodes several times faster than the four integers it stands for, and strings give
the garbage collector nothing to walk. (Ids and versions never hold a tab; an entry that
would is simply not cached.)
``watched`` holds the other recorded paths whose models a vanished file would mark
``removed``.

:func:`discover_unchanged` then answers a reconcile without the registry when the cache is
for the registry as it is now (same generation and ``updated_at`` in the database's
``meta`` table, and a database file no shorter than its header says), every
root was scanned before, discovery listed every directory, every candidate is in ``files`` with
an equal stat (checked as the walk finds it: :func:`registry.scanning.discovery.discover` with
``known``), and every cached path below the roots was found. Anything else (a new, changed,
invalid or vanished file, a new root, a missing or stale or unreadable cache) gives no
outcomes and a plain discovery, and the scanner takes its normal path, which is always
correct. The cache is never a source of truth: deleting it only costs the next rescan its
shortcut.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import structlog

from registry.config import Config
from registry.errors import StoreError
from registry.model.records import RegistryDoc
from registry.model.rowcodec import dumps
from registry.scanning.discovery import Discovery, discover
from registry.scanning.register_models import DELETED_MESSAGE, NOT_GNN_MESSAGE, PROSE_MESSAGE
from registry.scanning.scanio import RACY_NS, FileOutcome, key_of, stat_key
from registry.storage.atomic import write_atomic
from registry.storage.db import read_generation

NOT_GNN = "not-gnn"
"""Status of a cached candidate that is not a GNN model."""
PROSE = "prose"
"""Status of a cached candidate that is prose with GNN examples (a skipped document)."""
_SKIP_STATUS = {NOT_GNN_MESSAGE: NOT_GNN, PROSE_MESSAGE: PROSE}

log = structlog.get_logger(__name__)

FORMAT = 3
"""Version of the cache layout; a cache of another format is ignored."""

def cache_path(registry_path: Path) -> Path:
    """Where the scan cache of the registry at ``registry_path`` lives."""
    return registry_path.with_name(f".{registry_path.stem}.scan-cache.json")


def _registry_key(registry_path: Path) -> list[Any] | None:
    """``[generation, updated_at]`` of the registry database, if it looks sound."""
    found = read_generation(registry_path)
    return None if found is None else list(found)


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


def _entry(key: str, status: str, version: str | None, ids: Iterable[str]) -> str | None:
    fields = [key, status, version or "", *ids]
    return None if any("\t" in f for f in fields) else "\t".join(fields)


def _file_entry(rows: list[_Row]) -> tuple[str | None, bool]:
    """The cache entry of one path's rows (or ``None``) and whether the path is watched."""
    watched = any(not r.deleted and r.state != "removed" for r in rows)
    stats = {r.stat[:4] if r.stat else None for r in rows}
    if len(stats) != 1 or None in stats:
        return None, watched
    if any(r.state == "removed" or r.findings for r in rows):
        return None, watched
    if any(r.stat is not None and r.stat[1] >= r.stat[4] - RACY_NS for r in rows):
        return None, watched  # racy: the next scan re-hashes it
    key = key_of(*next(iter(stats)))  # type: ignore[misc]
    order = sorted(rows, key=lambda r: r.source_index)
    live = [r for r in order if not r.deleted]
    if live:
        entry = _entry(key, "unchanged", live[0].version, (r.model_id for r in live))
    else:
        entry = _entry(key, "skipped", None, (r.model_id for r in order))
    return entry, watched or entry is None


def not_gnn_files(found: Discovery, outcomes: Sequence[FileOutcome],
                  read_after_ns: int) -> dict[str, str]:
    """Cache entries for the candidates this pass found not to be GNN models.

    Args:
        found: the pass's discovery.
        outcomes: the pass's outcomes.
        read_after_ns: a time (``time.time_ns()``) before any file of the pass was read; a
            file modified within :data:`~registry.scanning.scanio.RACY_NS` of it is left out.

    Returns:
        ``{path: entry}`` to pass to :func:`write`.
    """
    paths = {o.path: _SKIP_STATUS[o.message] for o in outcomes
             if o.status == "skipped" and o.message in _SKIP_STATUS}
    out: dict[str, str] = {}
    for candidate in found.files:
        st = candidate.stat
        if candidate.path in paths and st.st_mtime_ns < read_after_ns - RACY_NS:
            entry = _entry(stat_key(st), paths[candidate.path], None, ())
            if entry is not None:
                out[candidate.path] = entry
    return out


def build(doc: RegistryDoc, total_models: int,
          extra: dict[str, str] | None = None) -> dict[str, Any]:
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
    files: dict[str, str] = {}
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
          extra: dict[str, str] | None = None) -> None:
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


class CacheHits:
    """The outcomes of a rescan's cache hits, built only when asked for.

    An unchanged rescan of 10,000 files needs their counts and the few skipped ones, not
    10,000 :class:`~registry.scanning.scanio.FileOutcome` objects (building them would cost more
    than
    the rest of the cache check). Implements :class:`registry.scanning.scanreport.DeferredOutcomes`.
    """

    def __init__(self, paths: list[str], files: dict[str, str]) -> None:
        """Count the statuses of ``paths`` (entries in ``files``).

        Raises:
            ValueError: an entry whose status the cache never writes.
        """
        self._paths = paths
        self._files = files
        self._notable: list[int] = []  # positions of the entries that are not "unchanged"
        unchanged = 0
        for at, path in enumerate(paths):
            entry = files[path]
            if entry.startswith("unchanged\t", entry.index("\t") + 1):
                unchanged += 1
            elif entry.split("\t", 2)[1] in ("skipped", NOT_GNN, PROSE):
                self._notable.append(at)
            else:
                raise ValueError(f"unexpected scan cache entry for {path}")
        self.counts = {"unchanged": unchanged, "skipped": len(self._notable)}

    def __len__(self) -> int:
        return len(self._paths)

    def _outcome(self, path: str) -> FileOutcome:
        _key, status, version, *ids = self._files[path].split("\t")
        if status == "unchanged":
            return FileOutcome(path, "unchanged", ids, version=version)
        if status == "skipped":
            return FileOutcome(path, "skipped", ids, message=DELETED_MESSAGE)
        return FileOutcome(path, "skipped",
                           message=PROSE_MESSAGE if status == PROSE else NOT_GNN_MESSAGE)

    def build(self) -> list[FileOutcome]:
        """Every outcome, in discovery order."""
        return [self._outcome(path) for path in self._paths]

    def notable(self) -> list[FileOutcome]:
        """The skipped outcomes (deleted models, files that are not GNN models), in order."""
        return [self._outcome(self._paths[at]) for at in self._notable]


def discover_unchanged(registry_path: Path, roots: Sequence[str], config: Config
                       ) -> tuple[Discovery, tuple[CacheHits, int] | None]:
    """Discover ``roots``, and answer the reconcile from the cache when nothing changed.

    Args:
        registry_path: the registry file.
        roots: the absolute roots to scan.
        config: discovery's settings.

    Returns:
        ``(found, (hits, total_models))`` when every candidate is known unchanged (or
        deleted and untouched, or not a GNN model) and nothing recorded below the roots
        vanished (``found`` then holds the hits' paths in ``known``, not candidates, and
        its problems); else ``(found, None)`` with a plain discovery for the scanner's
        normal path.
    """
    cache = _read(registry_path)
    if cache is None or not set(roots) <= set(cache.get("roots") or ()):
        return discover(roots, config), None
    found = discover(roots, config, known=cache["files"])
    if found.known is None:
        return found, None
    try:
        answer = _answer(cache, found.known, roots)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        answer = None  # a cache that does not have the expected shape is ignored
    if answer is None:
        return discover(roots, config), None  # e.g. a file vanished: the registrar decides
    return found, answer


def _answer(cache: dict[str, Any], hits: list[str],
            roots: Sequence[str]) -> tuple[CacheHits, int] | None:
    files: dict[str, Any] = cache["files"]
    prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
    exact = set(roots)

    def below(path: str) -> bool:
        return path.startswith(prefixes) or path in exact

    # Hits are distinct cached paths, so equal counts mean every cached file was found.
    if len(hits) != len(files) and sum(1 for p in files if below(p)) != len(hits):
        return None  # a cached file below the roots was not found: it vanished
    if any(below(str(p)) for p in cache["watched"]):
        return None  # a recorded file below the roots that the cache cannot vouch for
    return CacheHits(hits, files), int(cache["total_models"])


__all__ = ["FORMAT", "CacheHits", "build", "cache_path", "collector_paused",
           "discover_unchanged", "write"]

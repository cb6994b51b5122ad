"""Analysis of many files in parallel, and the read-ahead a scan uses.

:func:`registry.scanning.fileanalysis.analyse` analyses one file's bytes.

:func:`analyse_many` runs :func:`analyse` over a stream of files in a
:class:`~concurrent.futures.ProcessPoolExecutor` and yields the results in input order. Small
batches (fewer than :data:`SMALL_BATCH` files) and ``workers=1`` stay in this process (a pool
costs more than it saves there). Work is sent in chunks of a few files and at most
``IN_FLIGHT_PER_WORKER * workers`` chunks are in flight, so only a bounded number of file
contents are held at once however long the stream is. Workers are forked (Linux; nothing to
import again), or come from a ``forkserver`` when the process runs other threads (the
service: forking a threaded process can copy a lock another thread holds); they only compute
(they neither log nor touch the registry) and are shut down when the stream ends or is
closed. A chunk that fails in a worker, or a pool that breaks, is computed again in this
process, so the outcome is the same as without a pool.

:class:`ReadAhead` is what a scan uses: given the paths it is about to register, it reads and
analyses them ahead in the pool, and :meth:`ReadAhead.take` hands over a path's analysis when
the registrar reaches it, provided the bytes the registrar read have the same SHA-256 (a file
that changed in between is simply analysed again in process).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import chain, islice

from registry.scanning.fileanalysis import DEFAULT_MAX_VARIABLES, Analysis, analyse
from registry.scanning.scanio import ReadProblem, read_file

SMALL_BATCH = 64
"""Batches with fewer files than this are analysed in this process."""

CHUNK_FILES = 16
"""Files per task sent to a worker (fewer when they are large, see :data:`CHUNK_BYTES`)."""

CHUNK_BYTES = 1 << 20
"""A task is closed once its files reach this many bytes."""

IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted ahead per worker: enough that the workers keep going while this process
writes (a registry commit, metadata files), few enough to bound the contents held."""


@dataclass(frozen=True, slots=True)
class _Options:
    strict: bool
    metadata: bool
    skip_non_gnn: bool
    max_file_size: int = 0
    follow_symlinks: bool = False
    max_variables: int = DEFAULT_MAX_VARIABLES


Item = bytes | str | None
"""A file's bytes, or (for :class:`ReadAhead`) its path, read where it is analysed."""


def _item_bytes(item: Item, options: _Options) -> bytes | None:
    """The bytes of an item: read a path safely (``None`` when it cannot be read)."""
    if not isinstance(item, str):
        return item
    try:
        return read_file(item, options.max_file_size,
                         follow_symlinks=options.follow_symlinks)[0]
    except ReadProblem:
        return None


def _analyse_chunk(chunk: list[Item], options: _Options) -> list[Analysis | None]:
    """Worker entry point: analyse each file of a chunk (``None`` stays ``None``)."""
    out: list[Analysis | None] = []
    for item in chunk:
        data = _item_bytes(item, options)
        out.append(None if data is None else analyse(
            data, strict=options.strict, metadata=options.metadata,
            skip_non_gnn=options.skip_non_gnn, max_variables=options.max_variables))
    return out


def default_workers(setting: int | None = 0) -> int:
    """How many worker processes to use.

    Args:
        setting: the ``analysis_workers`` setting; 0 or ``None`` means one per usable CPU.

    Returns:
        At least 1.
    """
    if setting:
        return max(1, setting)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _chunks(items: Iterator[Item]) -> Iterator[list[Item]]:
    """Group the stream into tasks of at most CHUNK_FILES files or about CHUNK_BYTES bytes."""
    chunk: list[Item] = []
    size = 0
    for data in items:
        chunk.append(data)
        size += len(data) if isinstance(data, bytes) else 0
        if len(chunk) >= CHUNK_FILES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def analyse_many(items: Iterable[bytes | None], *, strict: bool = False, metadata: bool = True,
                 skip_non_gnn: bool = False, workers: int | None = None,
                 ) -> Iterator[Analysis | None]:
    """Analyse a stream of files, in parallel when it is worth it; results in input order.

    Args:
        items: each file's bytes, or ``None`` for a file that could not be read (its result
            is ``None``). Consumed lazily: only a bounded number are read ahead.
        strict: see :func:`analyse`.
        metadata: see :func:`analyse`.
        skip_non_gnn: see :func:`analyse`.
        workers: worker processes (``None`` or 0: one per CPU; 1: no pool).

    Yields:
        One result per item, in the order of ``items``.
    """
    options = _Options(strict=strict, metadata=metadata, skip_non_gnn=skip_non_gnn)
    yield from _analyse_stream(iter(items), options, workers)


def _analyse_stream(stream: Iterator[Item], options: _Options,
                    workers: int | None) -> Iterator[Analysis | None]:
    """:func:`analyse_many` for items that may also be paths (read where analysed)."""
    count = default_workers(workers)
    head = list(islice(stream, SMALL_BATCH))
    if count <= 1 or len(head) < SMALL_BATCH:
        for data in chain(head, stream):
            yield _analyse_chunk([data], options)[0]
        return
    yield from _pooled(_chunks(chain(head, stream)), options, count)


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` in a single-threaded process; ``forkserver`` when other threads run.

    A fork copies locks that other threads may hold at that instant (a log handler's, the
    standard streams' buffers) and the child could then block on them forever; the service
    has watcher and worker threads, so there the workers come from a fork server instead.
    """
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["registry.scanning.analysis"])
    return context


def _pooled(chunks: Iterator[list[Item]], options: _Options,
            count: int) -> Iterator[Analysis | None]:
    """Run the chunks in a pool of ``count`` workers, :data:`IN_FLIGHT_PER_WORKER` chunks per
    worker in flight."""
    pool = ProcessPoolExecutor(count, mp_context=_context())
    pending: deque[tuple[list[Item], Future[list[Analysis | None]] | None]] = deque()
    broken = False
    try:
        for chunk in chunks:
            task = None
            if not broken:
                try:
                    task = pool.submit(_analyse_chunk, chunk, options)
                except (BrokenProcessPool, RuntimeError):
                    broken = True
            pending.append((chunk, task))
            while len(pending) >= IN_FLIGHT_PER_WORKER * count:
                yield from _collect(*pending.popleft(), options)
        while pending:
            yield from _collect(*pending.popleft(), options)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _collect(chunk: list[Item], task: Future[list[Analysis | None]] | None,
             options: _Options) -> list[Analysis | None]:
    """A chunk's results from its task, or computed here when the task failed."""
    if task is not None:
        try:
            return task.result()
        except Exception:  # noqa: BLE001 - any worker failure: compute it here instead
            task = None
    return _analyse_chunk(chunk, options)


@dataclass(slots=True)
class ReadAhead:
    """Reads and analyses files ahead of a registrar that processes them in this order.

    The files are read by the workers (:func:`registry.scanning.scanio.read_file`, with the same
    size limit and symlink policy as the registrar), so this process does not read them twice.

    Args:
        paths: the files the registrar will reach, in order (each at most once).
        max_file_size / follow_symlinks: the read settings.
        strict / metadata: as for :func:`analyse` (from the settings).
        workers: the ``analysis_workers`` setting.
    """

    paths: Sequence[str]
    max_file_size: int
    follow_symlinks: bool = False
    strict: bool = False
    metadata: bool = True
    workers: int | None = None
    max_variables: int = DEFAULT_MAX_VARIABLES
    _remaining: set[str] = field(init=False, default_factory=set)
    _results: Iterator[Analysis | None] | None = field(init=False, default=None)
    _position: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._remaining = set(self.paths)

    def _stream(self) -> Iterator[Analysis | None]:
        if self._results is None:
            options = _Options(strict=self.strict, metadata=self.metadata, skip_non_gnn=True,
                               max_file_size=self.max_file_size,
                               follow_symlinks=self.follow_symlinks,
                               max_variables=self.max_variables)
            self._results = _analyse_stream(iter(self.paths), options, self.workers)
        return self._results

    def take(self, path: str, sha256: str) -> Analysis | None:
        """The analysis of ``path`` if it was read ahead with these bytes.

        Results of paths before ``path`` that were never asked for are dropped.

        Args:
            path: the file the registrar reached.
            sha256: hex SHA-256 of the bytes the registrar read.

        Returns:
            The analysis, or ``None`` (not read ahead, changed since, or not analysed fully).
        """
        if path not in self._remaining:
            return None
        stream = self._stream()
        while self._position < len(self.paths):
            current = self.paths[self._position]
            self._position += 1
            self._remaining.discard(current)
            result = next(stream, None)
            if current == path:
                if not self._remaining:
                    self.close()
                if result is None or not result.complete or result.sha256 != sha256:
                    return None
                return result
        return None

    def close(self) -> None:
        """Stop the workers and drop what was read ahead."""
        self._remaining.clear()
        if self._results is not None:
            close = getattr(self._results, "close", None)
            if close is not None:
                close()
            self._results = None


__all__ = [
    "CHUNK_BYTES",
    "CHUNK_FILES",
    "IN_FLIGHT_PER_WORKER",
    "SMALL_BATCH",
    "Item",
    "ReadAhead",
    "analyse_many",
    "default_workers",
]

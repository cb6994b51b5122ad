"""Register one file into a registry document: the one code path every scan and event uses.

A :class:`Registrar` works on the :class:`~registry.model.records.RegistryDoc` of one open store
transaction. It indexes the models once by file path and by content hash (so a pass over
*n* files is O(n)) and keeps both indexes current as models move or change.

Per file (:meth:`Registrar.process_file`):

1. ``lstat``; a file whose size, mtime, inode and device equal the recorded ``file_stat`` is
   not read again, unless its mtime is within :data:`RACY_NS` of the time that stat was
   recorded (the racy-git rule: a write in the same clock tick as the recording would not
   change the mtime, so such a file is hashed again).
2. Read the bytes once (``O_NOFOLLOW`` unless symlinks are followed, ``O_NONBLOCK`` so a file
   swapped for a FIFO never blocks; ``fstat`` of the open file confirms a regular file and
   gives the stat that is recorded), at most ``max_file_size`` bytes, once the file has
   settled (:func:`registry.scanning.scanio.read_settled`: a file modified within ``settle_ms`` is
   waited for, one whose stat changed during the read is read again, and one still changing
   after ``settle_timeout`` is ``deferred``, never registered half-written).
3. SHA-256. A single-model file whose bytes equal the current version is unchanged without
   parsing. Text that is not a GNN model (fewer than two GNN headings outside fenced code) is
   ``skipped`` (as "prose with GNN examples" when its fenced headings would make two), unless
   the path already holds a model (then it is validated and reported like any other edit).
   Bytes that are not UTF-8 text are validated too, and come out ``invalid`` (GNN-E100).
4. ``check_bytes``; with ``validate_before_register`` errors block the file (and warnings
   too with ``strict``): outcome ``invalid``, the findings kept on the outcome and on the
   models already registered from this path (their ``findings`` field), the current versions
   untouched. An invalid file is re-read on every scan so every scan reports it.
5. Each model of the file is matched to its entry by (path, position in the file); a model
   with no entry may be a returning one (same content hash as a model that is ``removed`` or
   whose recorded file is gone: same id, ``restored``/``renamed`` events and a
   ``renamed_from`` relationship), else it is new and gets an id from :mod:`registry.model.ids`.
   New content gets a version from :mod:`registry.model.versioning`.

Content hash: the SHA-256 of the whole file for a single-model file; for a multi-model file,
of each model's block (the text before the first model, i.e. the front matter, followed by
the block's lines joined with ``\\n``), so editing one model does not version the others.
Findings of a multi-model file are attributed to the model whose lines hold them (file-level
findings go to every model); errors anywhere in the file block the whole file.

Metadata: each version record keeps what :func:`registry.gnn.extract` returns except the
maps that repeat parts of ``structure`` (:data:`STRUCTURE_COPIES`: ``dimensions``,
``types``, ``ontology``, ``model_parameters``, ``time``; read them from ``structure``). The
model's own ``metadata`` is a summary of the current version's (``variables`` and
``connections`` counts, name, section, tags, description, signature, declared version...):
the per-variable maps and the structure document (:data:`VERSION_ONLY_KEYS`) are not
repeated there, which keeps the registry about a third smaller; read them from
``versions[-1].metadata``. With ``extract_metadata`` off only the seed fields are stored
(and every change is a patch bump, since there is no structure to compare).

Deleted (tombstoned) models: while their file keeps the bytes it had when deleted, the file
is ``skipped`` ("deleted from the registry"); new content revives the model under the same id
with the next version (a ``restored`` event with ``from: deleted``). An explicit registration
(:meth:`Registrar.process_file` with ``explicit=True``, as the library's ``register_model``
does) revives it even with the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_mod
import time
from collections.abc import Iterable
from typing import Any

import structlog

from registry.model import lifecycle
from registry.model.records import ModelEntry
from registry.model.rowcodec import row_stat
from registry.scanning.analysis import SMALL_BATCH, ReadAhead, default_workers
from registry.scanning.fileanalysis import Analysis, analyse
from registry.scanning.names import looks_like_gnn, shows_gnn_examples
from registry.scanning.register_models import (
    DELETED_MESSAGE,
    NOT_GNN_MESSAGE,
    PROSE_MESSAGE,
    STRUCTURE_COPIES,
    VERSION_ONLY_KEYS,
    ModelRegistrar,
)
from registry.scanning.scanio import (
    FileOutcome,
    ReadProblem,
    Settle,
    StatLike,
    lstat_or_none,
    read_settled,
    size_text,
    stat_matches,
)

log = structlog.get_logger(__name__)


class Registrar(ModelRegistrar):
    """Registers files into one registry document (one store transaction).

    Args:
        doc: the document of the open transaction (changed in place).
        config: the settings (validation, versioning, limits, symlink policy).
        actor: who is registering (recorded in history events).
    """

    settle: Settle | None = None
    """How reads wait for a file being written (default: ``settle_ms`` of quiet, at most
    ``settle_timeout``). The service's batches set a quiet time of 0: their paths already
    waited ``settle_ms`` in the event queue, and only a change during the read counts."""

    # -- one file --------------------------------------------------------------------------

    def process_file(self, path: str, st: StatLike | None = None, *,
                     explicit: bool = False) -> FileOutcome:
        """Register (or re-check) the file at ``path``.

        Args:
            path: an absolute path.
            st: its ``lstat`` result when the caller already has it.
            explicit: the user named this file (revive deleted models, skip the shortcut).

        Returns:
            The outcome; a vanished file gives the ``removed`` outcome of its models.
        """
        started = time.perf_counter()
        try:
            outcome = self._process(path, st, explicit=explicit)
        except ReadProblem as problem:
            if problem.status == "vanished":
                outcome = self.process_missing(path, reason=problem.message)
            else:
                outcome = FileOutcome(path, problem.status, message=problem.message,
                                      model_ids=[mid for mid, _row in self.rows_at(path)])
        self.release(outcome.model_ids)
        outcome.duration_ms = (time.perf_counter() - started) * 1000.0
        return outcome

    def _process(self, path: str, st: StatLike | None, *, explicit: bool) -> FileOutcome:
        if st is None:
            st = lstat_or_none(path)
            if st is None:
                return self.process_missing(path)
        if stat_mod.S_ISLNK(st.st_mode):
            if not self.config.follow_symlinks:
                raise ReadProblem("skipped", "is a symlink (follow_symlinks is off)")
            try:
                st = os.stat(path)  # noqa: PTH116 - path strings throughout (see discovery)
            except OSError as exc:
                raise ReadProblem("skipped", f"broken symlink: {exc.strerror}") from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise ReadProblem("skipped", "not a regular file (FIFO, socket or device); not opened")
        rows = self.rows_at(path)
        plain = all(r["state"] != "removed" and not r["findings"] for _m, r in rows)
        if rows and not explicit and plain and all(stat_matches(row_stat(r), st)
                                                   for _m, r in rows):
            live = [(m, r) for m, r in rows if not r["deleted"]]
            if not live:
                return FileOutcome(path, "skipped", [m for m, _r in rows],
                                   message=DELETED_MESSAGE)
            return FileOutcome(path, "unchanged", [m for m, _r in live],
                               version=str(live[0][1]["version"]))
        if self.lock_free and rows and plain:
            # A known file whose stat moved: at the least its recorded stat changes, so the
            # pass will be redone in a transaction; reading and decoding now would be wasted.
            self.changed = True
            return FileOutcome(path, "updated", [m for m, _r in rows])
        entries = self.entries_at(path)
        limit = self.config.max_file_size
        if st.st_size > limit:
            raise ReadProblem("skipped", f"file is {size_text(st.st_size)}, over max_file_size "
                                         f"{size_text(limit)}")
        settle = self.settle or Settle(self.config.settle_ms * 1_000_000,
                                       self.config.settle_timeout)
        data, fst = read_settled(path, limit, settle,
                                 follow_symlinks=self.config.follow_symlinks)
        return self._register_bytes(path, data, fst, entries, explicit=explicit)

    def _register_bytes(self, path: str, data: bytes, st: os.stat_result,
                        entries: list[ModelEntry], *, explicit: bool) -> FileOutcome:
        digest = hashlib.sha256(data).hexdigest()
        # Single-model file with the bytes of its current version: nothing to parse.
        if (len(entries) == 1 and entries[0].sha256 == digest
                and int(entries[0].metadata.get("model_count", 1) or 1) == 1):
            entry = entries[0]
            status = self._same_bytes(entry, st, explicit=explicit)
            return FileOutcome(path, status, [entry.model_id], version=entry.version,
                               message=DELETED_MESSAGE if status == "skipped" else "")
        live = [e for e in entries if not e.deleted]
        # A complete read-ahead analysis of these bytes means the worker found them to be GNN
        # (it skips non-GNN text by the same rule), so the prose check is not done twice.
        ahead = self.read_ahead.take(path, digest) if self.read_ahead is not None else None
        if not live and ahead is None:
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None  # not text: validated below and reported invalid (GNN-E100)
            if text is not None and "\x00" not in text and not looks_like_gnn(text):
                return FileOutcome(path, "skipped", message=(
                    PROSE_MESSAGE if shows_gnn_examples(text) else NOT_GNN_MESSAGE))
        analysis = ahead if ahead is not None else self._analysis(path, data, digest)
        blocked = (not analysis.ok if self.config.validate_before_register
                   else not analysis.models)
        if blocked:
            return self._invalid(path, live, analysis.finding_dicts())
        return self._register_models(path, analysis, st=st, entries=entries, explicit=explicit)

    # -- analysis (parse, validate, metadata), possibly done ahead in worker processes -------

    read_ahead: ReadAhead | None = None
    """Analyses of the files a scan is about to process (see :meth:`read_ahead_of`)."""

    def _analysis(self, path: str, data: bytes, digest: str) -> Analysis:
        try:
            return analyse(data, strict=self.config.strict, sha256=digest,
                           metadata=self.config.extract_metadata,
                           max_variables=self.config.max_variables)
        except Exception as exc:  # one bad file must not stop a scan or the service
            # The parser reports bad input as findings; an exception here is our defect.
            # Contain it to this file (an `error` outcome, exit 1), keep the traceback in the
            # log as structured data, and go on with the other files.
            log.exception("analysis_failed", path=path, sha256=digest)
            msg = (f"internal error while analysing this file ({type(exc).__name__}: {exc}); "
                   "the file was not registered, please report it")
            raise ReadProblem("error", msg) from exc

    def read_ahead_of(self, candidates: Iterable[tuple[str, StatLike]]) -> None:
        """Analyse ahead, in worker processes, the new files among ``candidates``.

        Only paths with no recorded model are read ahead (a first scan, a new tree): known
        files are mostly unchanged and never read. Fewer than :data:`SMALL_BATCH` of them are
        left to :meth:`process_file`. Call before processing the candidates in this order.

        Args:
            candidates: ``(path, lstat)`` of the files the scan will process, in order.
        """
        if self.read_ahead is not None:
            self.read_ahead.close()
            self.read_ahead = None
        limit, follow = self.config.max_file_size, self.config.follow_symlinks
        self.by_path.load_all()  # a pass over a tree: one read of every path beats a lookup each
        wanted = [path for path, st in candidates
                  if path not in self.by_path and st.st_size <= limit
                  and (stat_mod.S_ISREG(st.st_mode) or follow)]
        if len(wanted) < SMALL_BATCH or default_workers(self.config.analysis_workers) <= 1:
            return
        self.read_ahead = ReadAhead(wanted, limit, follow, strict=self.config.strict,
                                    metadata=self.config.extract_metadata,
                                    workers=self.config.analysis_workers,
                                    max_variables=self.config.max_variables)

    def _invalid(self, path: str, live: list[ModelEntry],
                 findings: list[dict[str, Any]]) -> FileOutcome:
        for entry in live:
            if entry.findings != findings:
                entry.findings = findings
                self.changed = True
        return FileOutcome(path, "invalid", [e.model_id for e in live],
                           version=live[0].version if live else None, findings=findings)

    # -- vanished files --------------------------------------------------------------------

    def process_missing(self, path: str, *, reason: str = "file is gone") -> FileOutcome:
        """Mark every live model recorded at ``path`` as removed.

        Returns:
            A ``removed`` outcome naming the models that changed state (status ``skipped``
            when nothing was recorded there or everything was already removed).
        """
        changed = [e.model_id for e in self.entries_at(path)
                   if lifecycle.mark_removed(e, actor=self.actor, reason=reason)]
        if changed:
            self.changed = True
            return FileOutcome(path, "removed", changed, message=reason)
        return FileOutcome(path, "skipped", message="no such file")

    def remove_missing(self, seen: set[str], scopes: Iterable[str],
                       unlisted: Iterable[str]) -> list[FileOutcome]:
        """``removed`` outcomes for recorded files under ``scopes`` that were not ``seen``.

        Args:
            seen: absolute paths found by this pass (whatever their outcome).
            scopes: the roots scanned (a recorded file at or below one of them that was not
                seen is gone).
            unlisted: directories that could not be read: nothing below them is removed.
        """
        scope_list = list(scopes)
        if not scope_list:
            return []  # nothing vanished (the service's usual batch): no pass over the paths
        prefixes = tuple(s.rstrip(os.sep) + os.sep for s in scope_list)
        blocked_list = list(unlisted)
        blocked = tuple(u.rstrip(os.sep) + os.sep for u in blocked_list)
        out: list[FileOutcome] = []
        for path in sorted(self.by_path):
            if path in seen:
                continue
            if path not in scope_list and not path.startswith(prefixes):
                continue
            if path in blocked_list or (blocked and path.startswith(blocked)):
                continue
            if not any(not r["deleted"] and r["state"] != "removed"
                       for _m, r in self.rows_at(path)):
                continue
            started = time.perf_counter()
            outcome = self.process_missing(path)
            outcome.duration_ms = (time.perf_counter() - started) * 1000.0
            if outcome.status == "removed":
                out.append(outcome)
        return out


__all__ = ["STRUCTURE_COPIES", "VERSION_ONLY_KEYS", "Registrar"]

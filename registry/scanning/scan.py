"""The scan use case: reconcile directories with the registry, or apply a batch of paths.

:class:`Scanner` is what ``gnn-registryd --scan``, the service and the library call. Both
entry points share one code path per file (:class:`registry.scanning.register.Registrar`):

- :meth:`Scanner.reconcile` walks the roots (:mod:`registry.scanning.discovery`), registers every
  candidate, marks models whose file vanished from a scanned root ``removed``, records the
  roots, and writes ``model_registry_summary.json``;
- :meth:`Scanner.process_paths` takes the service's settled paths: a file (new, changed or
  deleted) or a directory (new: scanned; gone: its models are removed).

Transactions. Each call is at most one store transaction, and none when nothing changed: the
pass first runs on a lock-free snapshot (:meth:`RegistryStore.load_index`: the header and
index rows only, no entry decoded), which for an unchanged tree only ``lstat``\\s files;
at the first change it stops and the pass runs again inside
:meth:`RegistryStore.transaction` (where files processed so far are cheap again: their stat is
unchanged). So an unchanged rescan takes no lock and writes nothing. Decision: the document's
``last_scan_at`` is therefore the time of the last scan that changed the registry;
``model_registry_summary.json`` has the time of every scan.

Logging: exactly one event per file, after the pass (so a pass that restarts inside the
transaction does not log twice): ``file_processed`` (``path``, ``model_id``, ``version``,
``change``, ``status``, ``findings`` as a list of codes, ``duration_ms``) at debug level for
unchanged and skipped files, warning for invalid ones and info otherwise; ``file_error``
(with ``error``) for files that could not be read. Store errors propagate.

Exit code of a report: 0 when every GNN file is valid, 1 when some file is invalid or could
not be read (status ``error``; a directory that could not be listed counts too).
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import structlog

from registry.config import Config
from registry.model.lifecycle import prune_hook_for
from registry.model.modelmap import LazyLoadError
from registry.model.records import RegistryDoc, utc_now
from registry.model.relations import refresh_relationships
from registry.scanning import scancache
from registry.scanning.discovery import discover
from registry.scanning.names import absolute, is_ignored, matches_any
from registry.scanning.register import Registrar
from registry.scanning.scanio import FileOutcome, ReadProblem, Settle, StatLike, lstat_or_none
from registry.scanning.scanreport import ScanReport, log_outcome
from registry.storage.store import RegistryStore

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)`` called after each file of a reconcile."""

class _Restart(Exception):  # noqa: N818 - control flow: the lock-free pass found a change
    """Raised inside a lock-free pass at the first change."""


Work = Callable[[Registrar, bool], list[FileOutcome]]


class Scanner:
    """Registers GNN files found under directories or named by the service.

    Args:
        config: the settings.
        store: the registry store (a new :class:`RegistryStore` for ``config`` by default).
        actor: who is scanning, recorded in history (``config.actor`` by default; the
            service passes ``"service"``).
    """

    def __init__(self, config: Config, store: RegistryStore | None = None, *,
                 actor: str | None = None) -> None:
        self.config = config
        self.store = store if store is not None else RegistryStore(config)
        if self.store.prune_hook is None:
            self.store.prune_hook = prune_hook_for(config)
        self.actor = actor or config.actor

    def flush_derived(self, *, final: bool = False) -> None:
        """Write the registry's derived files that are due (see
        :meth:`registry.storage.store.RegistryStore.flush_derived`)."""
        self.store.flush_derived(final=final)

    # -- the transaction wrapper -----------------------------------------------------------

    def _run(self, work: Work, roots: Sequence[str], report: ScanReport) -> RegistryDoc:
        """Run ``work`` lock-free first; again in a transaction if it changes anything.

        Returns:
            The document of the final pass (as loaded, or as written).
        """
        doc = self.store.load_index()
        try:
            registrar = Registrar(doc, self.config, actor=self.actor)
            registrar.lock_free = True
            outcomes = work(registrar, True)
            if registrar.changed or any(r not in doc.roots for r in roots):
                raise _Restart
        except (_Restart, LazyLoadError):
            # A change, or the snapshot could not give an entry: do it for real.
            pass
        else:
            report.outcomes = outcomes
            report.total_models = doc.live_count()
            return doc
        finally:
            self.store.release(doc)  # ids and index rows read so far stay usable
        registrar, doc = self._transaction(work, roots, report)
        for warning in registrar.warnings:
            log.warning(**warning)
        return doc

    def _transaction(self, work: Work, roots: Sequence[str],
                     report: ScanReport) -> tuple[Registrar, RegistryDoc]:
        with self.store.transaction(actor=self.actor) as doc:
            registrar = Registrar(doc, self.config, actor=self.actor)
            report.outcomes = work(registrar, False)
            if registrar.changed:
                refresh_relationships(doc)
            for root in roots:
                if root not in doc.roots:
                    doc.roots.append(root)
            doc.last_scan_at = report.scanned_at
            report.total_models = doc.live_count()
            loaded_generation = doc.generation
        # The store bumps the document's generation when (and only when) it writes.
        report.wrote = doc.generation > loaded_generation
        return registrar, doc

    def _finish(self, report: ScanReport, started: float) -> ScanReport:
        report.duration_ms = (time.perf_counter() - started) * 1000.0
        report.registry_path = str(self.store.view_path)
        for outcome in report.notable():  # an unchanged file is no unit of work: not read
            log_outcome(outcome)
        return report

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, roots: Sequence[Path | str] | None = None, *,
                  progress: Progress | None = None) -> ScanReport:
        """Bring the registry in line with every GNN file under ``roots``.

        Args:
            roots: directories (or single files); ``config.directories`` by default.
            progress: called with ``(done, total)`` after each file.

        Returns:
            The report (also written as ``model_registry_summary.json``).

        Raises:
            StoreError: the registry could not be read or written (incl. lock timeout).
        """
        started = time.perf_counter()
        chosen = list(roots) if roots is not None else list(self.config.directories)
        abs_roots = list(dict.fromkeys(absolute(r) for r in chosen))
        report = ScanReport(roots=abs_roots, scanned_at=utc_now())
        with scancache.collector_paused():
            found, known = scancache.discover_unchanged(self.store.path, abs_roots, self.config)
        if known is not None:  # nothing changed: the registry's index is not even read
            hits, report.total_models = known
            report.defer(hits, found.problem_outcomes())
            report.from_cache = True
            if progress is not None:
                for done in range(1, len(hits) + 1):
                    progress(done, len(hits))
            self._finish(report, started)
            self.store.write_summary(report.to_summary())
            return report
        seen = {c.path for c in found.files}
        total = len(found.files)

        def work(registrar: Registrar, lock_free: bool) -> list[FileOutcome]:
            outcomes: list[FileOutcome] = []
            if not lock_free:  # new files are parsed ahead in worker processes (P2)
                registrar.read_ahead_of((c.path, c.stat) for c in found.files)
            for done, candidate in enumerate(found.files, start=1):
                outcomes.append(registrar.process_file(candidate.path, candidate.stat))
                if lock_free and registrar.changed:
                    raise _Restart
                if progress is not None:
                    progress(done, total)
            outcomes.extend(found.problem_outcomes())
            outcomes.extend(registrar.remove_missing(seen, abs_roots, found.unlisted))
            return outcomes

        read_after_ns = time.time_ns()
        doc = self._run(work, abs_roots, report)
        scancache.write(self.store.path, doc, report.total_models,
                        scancache.not_gnn_files(found, report.outcomes, read_after_ns))
        self._finish(report, started)
        self.store.write_summary(report.to_summary())
        return report

    # -- batches from the service ----------------------------------------------------------

    def _watch_roots(self) -> list[str]:
        return [absolute(r) for r in self.config.directories]

    def _wanted(self, path: str, roots: list[str]) -> bool:
        name = os.path.basename(path)  # noqa: PTH119 - path strings (see discovery)
        if is_ignored(path, roots=roots, ignore_patterns=self.config.ignore_patterns):
            return False
        return matches_any(name, self.config.patterns)

    def _is_dir(self, path: str, st: os.stat_result) -> bool:
        if stat_mod.S_ISDIR(st.st_mode):
            return True
        if stat_mod.S_ISLNK(st.st_mode) and self.config.follow_symlinks:
            try:
                return stat_mod.S_ISDIR(os.stat(path).st_mode)  # noqa: PTH116 - strings
            except OSError:
                return False
        return False

    def process_paths(self, paths: Iterable[Path | str]) -> ScanReport:
        """Apply a batch of paths that may have changed (the service's settled events).

        Each path may be a new, changed or deleted file, or a new or deleted directory.
        Existing paths are handled before missing ones, so a move inside the batch is seen
        as a move. Editor temporaries, hidden paths and names that do not match the
        patterns are ignored (no outcome).

        Args:
            paths: absolute (or cwd-relative) paths.

        Returns:
            The report (no summary file is written for batches).

        Raises:
            StoreError: the registry could not be read or written.
        """
        started = time.perf_counter()
        roots = self._watch_roots()
        report = ScanReport(roots=roots, scanned_at=utc_now())
        batch = list(dict.fromkeys(absolute(p) for p in paths))
        files: list[tuple[str, StatLike]] = []
        dirs: list[str] = []
        missing: list[str] = []
        unreadable: list[FileOutcome] = []
        for path in batch:
            try:
                st = lstat_or_none(path)
            except ReadProblem as problem:
                # Cannot even stat it (EACCES on a parent...): report it, never remove it.
                unreadable.append(FileOutcome(path, "error", message=problem.message))
                continue
            if st is None:
                missing.append(path)
            elif self._is_dir(path, st):
                if not is_ignored(path, roots=roots):
                    dirs.append(path)
            elif self._wanted(path, roots):
                files.append((path, st))
        found = discover(dirs, self.config) if dirs else None

        def work(registrar: Registrar, lock_free: bool) -> list[FileOutcome]:
            # Settled in the service's queue already (and drained at once on SIGTERM):
            # only a change during the read makes a file be read again.
            registrar.settle = Settle(0, self.config.settle_timeout)
            outcomes: list[FileOutcome] = []
            handled: set[str] = set()
            candidates = [(p, s) for p, s in files]
            if found is not None:
                candidates += [(c.path, c.stat) for c in found.files]
            for path, st in candidates:
                if path in handled:
                    continue
                handled.add(path)
                outcomes.append(registrar.process_file(path, st))
                if lock_free and registrar.changed:
                    raise _Restart
            if found is not None:
                outcomes.extend(found.problem_outcomes())
                outcomes.extend(registrar.remove_missing(handled, dirs, found.unlisted))
            outcomes.extend(registrar.remove_missing(set(), missing, ()))
            if lock_free and registrar.changed:
                raise _Restart
            return outcomes + unreadable

        self._run(work, [], report)
        return self._finish(report, started)

    # -- one file, explicitly --------------------------------------------------------------

    def register_file(self, path: Path | str) -> FileOutcome:
        """Register one file the user named (the library's ``register_model``).

        The name need not match the patterns, and a deleted model is revived even with the
        same bytes. The file must still be a GNN model.

        Args:
            path: the file.

        Returns:
            Its outcome.

        Raises:
            StoreError: the registry could not be read or written.
        """
        started = time.perf_counter()
        target = absolute(path)
        report = ScanReport(scanned_at=utc_now())
        with self.store.transaction(actor=self.actor) as doc:
            registrar = Registrar(doc, self.config, actor=self.actor)
            outcome = registrar.process_file(target, explicit=True)
            if registrar.changed:
                refresh_relationships(doc)
            report.total_models = doc.live_count()
        for warning in registrar.warnings:
            log.warning(**warning)
        report.outcomes = [outcome]
        self._finish(report, started)
        return outcome


__all__ = ["Progress", "ScanReport", "Scanner"]

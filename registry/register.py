"""Register one file into a registry document: the one code path every scan and event uses.

A :class:`Registrar` works on the :class:`~registry.records.RegistryDoc` of one open store
transaction. It indexes the models once by file path and by content hash (so a pass over
*n* files is O(n)) and keeps both indexes current as models move or change.

Per file (:meth:`Registrar.process_file`):

1. ``lstat``; a file whose size, mtime, inode and device equal the recorded ``file_stat`` is
   not read again, unless its mtime is within :data:`RACY_NS` of the time that stat was
   recorded (the racy-git rule: a write in the same clock tick as the recording would not
   change the mtime, so such a file is hashed again).
2. Read the bytes once (``O_NOFOLLOW`` unless symlinks are followed, ``O_NONBLOCK`` so a file
   swapped for a FIFO never blocks; ``fstat`` of the open file confirms a regular file and
   gives the stat that is recorded), at most ``max_file_size`` bytes.
3. SHA-256. A single-model file whose bytes equal the current version is unchanged without
   parsing. Text that is not a GNN model (fewer than two GNN headings) is ``skipped``, unless
   the path already holds a model (then it is validated and reported like any other edit).
   Bytes that are not UTF-8 text are validated too, and come out ``invalid`` (GNN-E100).
4. ``check_bytes``; with ``validate_before_register`` errors block the file (and warnings
   too with ``strict``): outcome ``invalid``, the findings kept on the outcome and on the
   models already registered from this path (their ``findings`` field), the current versions
   untouched. An invalid file is re-read on every scan so every scan reports it.
5. Each model of the file is matched to its entry by (path, position in the file); a model
   with no entry may be a returning one (same content hash as a model that is ``removed`` or
   whose recorded file is gone: same id, ``restored``/``renamed`` events and a
   ``renamed_from`` relationship), else it is new and gets an id from :mod:`registry.ids`.
   New content gets a version from :mod:`registry.versioning`.

Content hash: the SHA-256 of the whole file for a single-model file; for a multi-model file,
of each model's block (the text before the first model, i.e. the front matter, followed by
the block's lines joined with ``\\n``), so editing one model does not version the others.
Findings of a multi-model file are attributed to the model whose lines hold them (file-level
findings go to every model); errors anywhere in the file block the whole file.

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
from dataclasses import dataclass
from typing import Any

import structlog

from registry import history, ids, lifecycle, versioning
from registry.config import Config
from registry.discovery import base_name, looks_like_gnn
from registry.gnn import bump_kind as gnn_bump_kind
from registry.gnn import check_bytes, diff_structures, extract
from registry.gnn.model import Finding, GnnFile, GnnModel
from registry.gnn.parser import split_lines
from registry.records import ModelEntry, RegistryDoc, Relationship, VersionRecord, utc_now
from registry.scanio import (
    FileOutcome,
    ReadProblem,
    file_stat,
    lstat_or_none,
    read_file,
    size_text,
    stat_matches,
)

log = structlog.get_logger(__name__)

# Which status describes a file whose models had different fates (strongest first).
_RANK = {"registered": 0, "updated": 1, "renamed": 2, "restored": 3, "unchanged": 4,
         "skipped": 5}
_DELETED_MESSAGE = "deleted from the registry; edit the file to register it again"


@dataclass(slots=True)
class _Block:
    """One model of a valid file on its way into the registry."""

    path: str
    index: int
    model: GnnModel
    gnn: GnnFile
    sha: str
    findings: list[dict[str, Any]]
    st: os.stat_result


def _findings_for(findings: tuple[Finding, ...], model: GnnModel,
                  count: int) -> list[dict[str, Any]]:
    if count == 1:
        return [f.to_dict() for f in findings]
    return [f.to_dict() for f in findings
            if f.line is None or model.first_line <= f.line <= model.last_line]


class Registrar:
    """Registers files into one registry document (one store transaction).

    Args:
        doc: the document of the open transaction (changed in place).
        config: the settings (validation, versioning, limits, symlink policy).
        actor: who is registering (recorded in history events).
    """

    def __init__(self, doc: RegistryDoc, config: Config, *, actor: str) -> None:
        self.doc = doc
        self.config = config
        self.actor = actor
        self.changed = False
        self.by_path: dict[str, list[ModelEntry]] = {}
        self.by_sha: dict[str, list[ModelEntry]] = {}
        for entry in doc.models.values():
            self._index(entry)

    # -- indexes ---------------------------------------------------------------------------

    def _index(self, entry: ModelEntry) -> None:
        self.by_path.setdefault(entry.file_path, []).append(entry)
        if entry.sha256:
            self.by_sha.setdefault(entry.sha256, []).append(entry)

    def _unindex(self, entry: ModelEntry) -> None:
        items = self.by_path.get(entry.file_path)
        if items is not None and entry in items:
            items.remove(entry)
            if not items:
                del self.by_path[entry.file_path]
        shas = self.by_sha.get(entry.sha256)
        if shas is not None and entry in shas:
            shas.remove(entry)
            if not shas:
                del self.by_sha[entry.sha256]

    def entries_at(self, path: str) -> list[ModelEntry]:
        """Models recorded at ``path`` (deleted ones included), in file order."""
        return sorted(self.by_path.get(path, ()), key=lambda e: e.source_index)

    def recorded_paths(self) -> list[str]:
        """Every file path some model is recorded at."""
        return list(self.by_path)

    # -- one file --------------------------------------------------------------------------

    def process_file(self, path: str, st: os.stat_result | None = None, *,
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
                                      model_ids=[e.model_id for e in self.entries_at(path)])
        outcome.duration_ms = (time.perf_counter() - started) * 1000.0
        return outcome

    def _process(self, path: str, st: os.stat_result | None, *, explicit: bool) -> FileOutcome:
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
        entries = self.entries_at(path)
        if (entries and not explicit
                and all(stat_matches(e.file_stat, st) for e in entries)
                and all(e.state != "removed" and not e.findings for e in entries)):
            live = [e for e in entries if not e.deleted]
            if not live:
                return FileOutcome(path, "skipped", [e.model_id for e in entries],
                                   message=_DELETED_MESSAGE)
            return FileOutcome(path, "unchanged", [e.model_id for e in live],
                               version=live[0].version)
        limit = self.config.max_file_size
        if st.st_size > limit:
            raise ReadProblem("skipped", f"file is {size_text(st.st_size)}, over max_file_size "
                                         f"{size_text(limit)}")
        data, fst = read_file(path, limit, follow_symlinks=self.config.follow_symlinks)
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
                               message=_DELETED_MESSAGE if status == "skipped" else "")
        live = [e for e in entries if not e.deleted]
        if not live:
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None  # not text: validated below and reported invalid (GNN-E100)
            if text is not None and "\x00" not in text and not looks_like_gnn(text):
                return FileOutcome(path, "skipped", message="not a GNN model (fewer than two "
                                                            "GNN section headings)")
        result = check_bytes(data, strict=self.config.strict)
        gnn = result.gnn
        blocked = not result.ok if self.config.validate_before_register else not gnn.models
        if blocked:
            return self._invalid(path, live, [f.to_dict() for f in result.findings])
        return self._register_models(path, data, gnn, digest=digest, findings=result.findings,
                                     st=st, entries=entries, explicit=explicit)

    def _invalid(self, path: str, live: list[ModelEntry],
                 findings: list[dict[str, Any]]) -> FileOutcome:
        for entry in live:
            if entry.findings != findings:
                entry.findings = findings
                self.changed = True
        return FileOutcome(path, "invalid", [e.model_id for e in live],
                           version=live[0].version if live else None, findings=findings)

    def _same_bytes(self, entry: ModelEntry, st: os.stat_result, *, explicit: bool) -> str:
        """The file holds the model's current bytes: refresh what must be; return a status."""
        if entry.deleted and not explicit:
            self._set_stat(entry, st)
            return "skipped"
        status = "restored" if self._revive(entry, "registered again") else "unchanged"
        if lifecycle.mark_returned(entry, actor=self.actor):
            status = "restored"
            self.changed = True
        if entry.findings:
            entry.findings = []
            self.changed = True
        self._set_stat(entry, st)
        return status

    def _set_stat(self, entry: ModelEntry, st: os.stat_result) -> None:
        if not stat_matches(entry.file_stat, st):
            entry.file_stat = file_stat(st)
            self.changed = True

    def _revive(self, entry: ModelEntry, reason: str) -> bool:
        if not entry.deleted:
            return False
        entry.deleted = False
        entry.state = "active"
        history.record(entry, "restored", actor=self.actor, reason=reason,
                       **{"from": "deleted", "to": "active"})
        self.changed = True
        return True

    # -- models of a valid file ------------------------------------------------------------

    def _register_models(self, path: str, data: bytes, gnn: GnnFile, *, digest: str,
                         findings: tuple[Finding, ...], st: os.stat_result,
                         entries: list[ModelEntry], explicit: bool) -> FileOutcome:
        models = gnn.models
        slots: dict[int, ModelEntry] = {}
        for entry in entries:
            slots.setdefault(entry.source_index, entry)
        lines: list[str] = []
        head: list[str] = []
        if len(models) > 1:
            lines = split_lines(data.decode("utf-8").removeprefix("\ufeff"))
            head = lines[:models[0].first_line - 1]
        statuses: list[str] = []
        ids_out: list[str] = []
        messages: list[str] = []
        first_change: str | None = None
        for index, model in enumerate(models):
            if len(models) == 1:
                sha = digest
            else:
                block_lines = head + lines[model.first_line - 1:model.last_line]
                sha = hashlib.sha256("\n".join(block_lines).encode("utf-8")).hexdigest()
            block = _Block(path, index, model, gnn, sha,
                           _findings_for(findings, model, len(models)), st)
            status, entry, message, change = self._register_model(block, slots,
                                                                   explicit=explicit)
            slots[index] = entry
            statuses.append(status)
            ids_out.append(entry.model_id)
            if message:
                messages.append(message)
            if index == 0:
                first_change = change
        for index, entry in sorted(slots.items()):
            if index >= len(models) and not entry.deleted and lifecycle.mark_removed(
                    entry, actor=self.actor, reason="model no longer in the file"):
                self.changed = True
                messages.append(f"{entry.model_id} no longer in the file: removed")
        status = min(statuses, key=lambda s: _RANK.get(s, 9))
        return FileOutcome(path, status, ids_out, version=slots[0].version,
                           change=first_change, findings=[f.to_dict() for f in findings],
                           message="; ".join(messages))

    def _metadata(self, block: _Block) -> dict[str, Any]:
        gnn, model = block.gnn, block.model
        if self.config.extract_metadata:
            return extract(gnn, model, sha256=block.sha)
        front = gnn.front_matter
        tags = front.get("tags")
        description = front.get("description")
        version = front.get("version")
        return {
            "model_name": model.name,
            "variables": len({v.name for v in model.variables}),
            "connections": len({c.line for c in model.connections}),
            "declared_version": version if isinstance(version, str) else None,
            "tags": [tags] if isinstance(tags, str) else list(tags or []),
            "description": description if isinstance(description, str) else None,
            "sha256": block.sha,
            "model_index": model.index,
            "model_count": len(gnn.models),
        }

    def _find_returning(self, sha: str, path: str) -> ModelEntry | None:
        """A live model with this content whose file is gone (a move), or ``None``."""
        for entry in sorted(self.by_sha.get(sha, ()), key=lambda e: e.model_id):
            if entry.deleted or entry.file_path == path:
                continue
            if entry.state == "removed" or not os.path.lexists(entry.file_path):
                return entry
        return None

    def _move(self, entry: ModelEntry, path: str, index: int) -> str:
        old = entry.file_path
        self._unindex(entry)
        entry.file_path = path
        entry.source_index = index
        self._index(entry)
        self.changed = True
        history.record(entry, "renamed", actor=self.actor, **{"from": old, "to": path})
        rel = Relationship("renamed_from", old)
        if rel not in entry.relationships:
            entry.relationships.append(rel)
        log.info("model_renamed", model_id=entry.model_id, old_path=old, new_path=path)
        return f"{entry.model_id} moved from {old}"

    def _new_id(self, path: str, index: int, slots: dict[int, ModelEntry]) -> str:
        taken = self.doc.models
        if index == 0:
            return ids.allocate_id(path, taken)
        base = slots[0].model_id if 0 in slots else ids.allocate_id(path, taken)
        return ids.sub_model_id(base, index, taken)

    def _register_model(self, block: _Block, slots: dict[int, ModelEntry], *,
                        explicit: bool) -> tuple[str, ModelEntry, str, str | None]:
        """Register one model of the file; returns (status, entry, message, change)."""
        entry = slots.get(block.index)
        message = ""
        if entry is None:
            entry = self._find_returning(block.sha, block.path)
            if entry is not None:
                message = self._move(entry, block.path, block.index)
                lifecycle.mark_returned(entry, actor=self.actor)
        if entry is None:
            entry = self._create(block, slots)
            return "registered", entry, "", entry.versions[-1].change
        if entry.sha256 == block.sha:
            status = self._same_bytes(entry, block.st, explicit=explicit)
            if message:
                return "renamed", entry, message, None
            return status, entry, _DELETED_MESSAGE if status == "skipped" else "", None
        self._revive(entry, "file changed after deletion")
        lifecycle.mark_returned(entry, actor=self.actor)
        self._add_version(entry, block)
        return ("renamed" if message else "updated"), entry, message, entry.versions[-1].change

    def _create(self, block: _Block, slots: dict[int, ModelEntry]) -> ModelEntry:
        meta = self._metadata(block)
        model_id = self._new_id(block.path, block.index, slots)
        choice = versioning.first_version(meta.get("declared_version"))
        now = utc_now()
        entry = ModelEntry(model_id=model_id, model_name="", file_path=block.path,
                           file_size_bytes=block.st.st_size, registered_at=now, updated_at=now,
                           version=choice.version, source_index=block.index)
        self._apply(entry, block, meta, choice, now)
        history.record(entry, "registered", actor=self.actor, at=now, version=choice.version,
                       path=block.path)
        self.doc.models[model_id] = entry
        self._index(entry)
        self.changed = True
        return entry

    def _bump(self, entry: ModelEntry, meta: dict[str, Any]) -> versioning.BumpKind:
        prev = entry.current
        old = prev.metadata.get("structure") if prev is not None else None
        new = meta.get("structure")
        if not self.config.auto_version or not isinstance(old, dict) or not isinstance(
                new, dict):
            return "patch"
        return gnn_bump_kind(diff_structures(old, new))

    def _add_version(self, entry: ModelEntry, block: _Block) -> None:
        meta = self._metadata(block)
        kind = self._bump(entry, meta)
        declared = meta.get("declared_version")
        choice = versioning.next_version(entry, kind, declared)
        previous = entry.version
        now = utc_now()
        if choice.conflict:
            history.record(entry, "version_conflict", actor=self.actor, at=now,
                           reason=choice.conflict, declared=declared, version=choice.version)
            log.warning("version_conflict", model_id=entry.model_id, path=block.path,
                        declared=declared, version=choice.version, message=choice.conflict)
        self._unindex(entry)
        self._apply(entry, block, meta, choice, now)
        self._index(entry)
        history.record(entry, "version_added", actor=self.actor, at=now, version=choice.version,
                       change=choice.change, previous=previous)
        self.changed = True

    def _apply(self, entry: ModelEntry, block: _Block, meta: dict[str, Any],
               choice: versioning.VersionChoice, now: str) -> None:
        """Append the new version and set the model's fields from it."""
        prev = entry.current
        prev_tags = [str(t) for t in prev.metadata.get("tags") or []] if prev else []
        stem = base_name(block.path).rsplit(".", 1)[0] or block.path
        name = meta.get("model_name") or block.model.name or (
            stem if block.index == 0 else f"{stem} ({block.index + 1})")
        size = block.st.st_size
        entry.versions.append(VersionRecord(
            version=choice.version, sha256=block.sha, registered_at=now, file_path=block.path,
            file_size_bytes=size, change=choice.change, metadata=meta, findings=block.findings,
            signature=str(meta.get("signature") or "")))
        entry.model_name = str(name)
        entry.file_path = block.path
        entry.file_size_bytes = size
        entry.updated_at = now
        entry.version = choice.version
        # The model level keeps the current version's metadata without the structure
        # document, which only version-to-version diffs need.
        entry.metadata = {k: v for k, v in meta.items() if k != "structure"}
        entry.description = str(meta.get("description") or "")
        # Tags: the user's own (added with `gnn-registry tag`) plus the file's front matter
        # tags; tags the previous version's front matter had and this one dropped go away.
        file_tags = [str(t) for t in meta.get("tags") or []]
        user_tags = [t for t in entry.tags if t not in prev_tags]
        entry.tags = list(dict.fromkeys([*user_tags, *file_tags]))
        entry.sha256 = block.sha
        entry.file_stat = file_stat(block.st)
        entry.findings = []
        entry.source_index = block.index

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
            log.info("model_removed", path=path, model_ids=changed)
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
            if not any(not e.deleted and e.state != "removed" for e in self.by_path[path]):
                continue
            started = time.perf_counter()
            outcome = self.process_missing(path)
            outcome.duration_ms = (time.perf_counter() - started) * 1000.0
            if outcome.status == "removed":
                out.append(outcome)
        return out


__all__ = ["Registrar"]

"""Model-level registration: the registry document, its indexes, ids, versions, metadata.

:class:`ModelRegistrar` is the half of :class:`registry.scanning.register.Registrar` that knows
about
models rather than files: it indexes the document by file path and content hash, matches each
model of a valid file to its entry (by path and position, or as a returning model by content
hash), creates entries with new ids, adds versions and keeps the model-level fields and the
history current. See :mod:`registry.scanning.register` for the rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from registry.config import Config
from registry.gnn import bump_kind as gnn_bump_kind
from registry.gnn import diff_structures
from registry.model import history, ids, lifecycle, versioning
from registry.model.records import ModelEntry, RegistryDoc, Relationship, VersionRecord, utc_now
from registry.model.rowcodec import IndexRow
from registry.scanning.fileanalysis import Analysis, ModelAnalysis
from registry.scanning.names import base_name
from registry.scanning.scanio import FileOutcome, file_stat, stat_matches

VERSION_ONLY_KEYS = frozenset({"structure", "dimensions", "types", "ontology",
                               "model_parameters", "time", "sections"})
"""Metadata keys kept only on the version record, not repeated in the model's ``metadata``."""

STRUCTURE_COPIES = frozenset({"dimensions", "types", "ontology", "model_parameters", "time"})
"""Keys of :func:`registry.gnn.extract` that repeat parts of ``structure``: not stored.

Their one home is the version's ``metadata["structure"]`` (``variables`` -> ``dims`` and
``type`` per variable, ``ontology``, ``model_parameters``, ``time``); search and diff read
them from there."""

# Which status describes a file whose models had different fates (strongest first).
_RANK = {"registered": 0, "updated": 1, "renamed": 2, "restored": 3, "unchanged": 4,
         "skipped": 5}
DELETED_MESSAGE = "deleted from the registry; edit the file to register it again"
NOT_GNN_MESSAGE = "not a GNN model (fewer than two GNN section headings)"
PROSE_MESSAGE = ("prose with GNN examples (its GNN section headings are inside fenced code "
                 "blocks): a document, not a model")


class KeyIndex:
    """``key -> [model id]`` filled per key by ``lookup`` (or, without one, or when iterated,
    all at once from ``load_all``). Changes made through :meth:`add`/:meth:`discard` are
    kept on top of what was looked up, so the index follows the open transaction."""

    def __init__(self, lookup: Callable[[str], list[str]] | None,
                 load_all: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._lookup = lookup
        self._load_all = load_all
        self._known: dict[str, list[str]] = {}
        self._complete = False
        if lookup is None:
            self.load_all()

    def load_all(self) -> None:
        """Fill every key (keys already looked up keep their in-transaction changes)."""
        if self._complete:
            return
        full: dict[str, list[str]] = {}
        for model_id, key in self._load_all():
            if key:
                full.setdefault(key, []).append(model_id)
        full.update(self._known)
        self._known = full
        self._complete = True

    def _ids(self, key: str) -> list[str]:
        ids = self._known.get(key)
        if ids is None:
            ids = [] if self._complete or self._lookup is None else list(self._lookup(key))
            self._known[key] = ids
        return ids

    def get(self, key: str, default: Sequence[str] = ()) -> Sequence[str]:
        """The ids recorded under ``key`` (``default`` when none)."""
        return self._ids(key) or default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._ids(key))

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter([k for k, ids in self._known.items() if ids])

    def add(self, key: str, model_id: str) -> None:
        """Record ``model_id`` under ``key``."""
        self._ids(key).append(model_id)

    def discard(self, key: str, model_id: str) -> None:
        """Forget ``model_id`` under ``key`` (nothing happens when it is not there)."""
        ids = self._ids(key)
        if model_id in ids:
            ids.remove(model_id)


@dataclass(slots=True)
class ModelBlock:
    """One model of a valid file on its way into the registry."""

    path: str
    index: int
    model: ModelAnalysis
    sha: str
    findings: list[dict[str, Any]]
    st: os.stat_result


class ModelRegistrar:
    """The document side of a registration pass (see the module docstring).

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
        # True during the scanner's lock-free pass: its document is thrown away at the first
        # change (the pass is redone in a transaction), so nothing needs to be encoded and a
        # known file whose stat moved is a change without reading it.
        self.lock_free = False
        # Warnings for the caller to log once the pass is final (a lock-free pass that is
        # restarted inside the transaction must not log them twice).
        self.warnings: list[dict[str, Any]] = []
        # Indexes hold model ids by file path and by content hash. A store that can look
        # them up (the database's indexes) fills them one key at a time, so a batch of a few
        # files costs a few lookups, not a pass over every model; otherwise (and when a pass
        # needs every key) they are filled from the index rows, decoding no entry.
        models = doc.models
        self.by_path = KeyIndex(models.ids_at_path if models.indexed else None,
                                lambda: ((m, r["file_path"]) for m, r in models.rows()))
        self.by_sha = KeyIndex(models.ids_with_sha if models.indexed else None,
                               lambda: ((m, r["sha256"]) for m, r in models.rows()))

    # -- indexes ---------------------------------------------------------------------------

    def _index(self, entry: ModelEntry) -> None:
        self.by_path.add(entry.file_path, entry.model_id)
        if entry.sha256:
            self.by_sha.add(entry.sha256, entry.model_id)

    def _unindex(self, entry: ModelEntry) -> None:
        self.by_path.discard(entry.file_path, entry.model_id)
        self.by_sha.discard(entry.sha256, entry.model_id)

    def rows_at(self, path: str) -> list[tuple[str, IndexRow]]:
        """``(model_id, index row)`` of the models recorded at ``path``, in file order."""
        rows = [(mid, self.doc.models.row(mid)) for mid in self.by_path.get(path, ())]
        rows.sort(key=lambda item: int(item[1]["source_index"]))
        return rows

    def entries_at(self, path: str) -> list[ModelEntry]:
        """Models recorded at ``path`` (deleted ones included), in file order (decoded)."""
        return [self.doc.models[mid] for mid, _row in self.rows_at(path)]

    def recorded_paths(self) -> list[str]:
        """Every file path some model is recorded at."""
        return list(self.by_path)

    def release(self, model_ids: list[str]) -> None:
        """Encode these models now and drop their decoded objects (bounds a scan's memory)."""
        for model_id in model_ids:
            if self.lock_free:
                self.doc.models.drop_decoded(model_id)
            else:
                self.doc.models.freeze(model_id)

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

    def _register_models(self, path: str, analysis: Analysis, *, st: os.stat_result,
                         entries: list[ModelEntry], explicit: bool) -> FileOutcome:
        models = analysis.models
        slots: dict[int, ModelEntry] = {}
        for entry in entries:
            slots.setdefault(entry.source_index, entry)
        statuses: list[str] = []
        ids_out: list[str] = []
        messages: list[str] = []
        first_change: str | None = None
        for index, model in enumerate(models):
            block = ModelBlock(path, index, model, model.sha256, model.findings, st)
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
                           change=first_change, findings=analysis.finding_dicts(),
                           message="; ".join(messages))

    def _metadata(self, block: ModelBlock) -> dict[str, Any]:
        # Computed by registry.scanning.analysis (the full extract, or the seed form when
        # extract_metadata is off); copied so the analysis result is never shared.
        return dict(block.model.metadata)

    def _find_returning(self, sha: str, path: str) -> ModelEntry | None:
        """A live model with this content whose file is gone (a move), or ``None``."""
        for model_id in sorted(self.by_sha.get(sha, ())):
            row = self.doc.models.row(model_id)
            if row["deleted"] or row["file_path"] == path:
                continue
            if row["state"] == "removed" or not os.path.lexists(row["file_path"]):
                return self.doc.models[model_id]
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
        return f"{entry.model_id} moved from {old}"

    def _new_id(self, block: ModelBlock, slots: dict[int, ModelEntry]) -> str:
        taken = self.doc.models
        pinned = block.model.pinned_id
        if block.index == 0:
            model_id = ids.allocate_id(block.path, taken, pinned=pinned)
            if pinned is not None and model_id != pinned:
                self.warnings.append({
                    "event": "pinned_id_unavailable", "path": block.path, "pinned": pinned,
                    "model_id": model_id,
                    "message": f"front matter id {pinned!r} is taken or not a safe id; "
                               f"registered as {model_id!r}"})
            return model_id
        base = (slots[0].model_id if 0 in slots
                else ids.allocate_id(block.path, taken, pinned=pinned))
        return ids.sub_model_id(base, block.index, taken)

    def _register_model(self, block: ModelBlock, slots: dict[int, ModelEntry], *,
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
            return status, entry, DELETED_MESSAGE if status == "skipped" else "", None
        self._revive(entry, "file changed after deletion")
        lifecycle.mark_returned(entry, actor=self.actor)
        earlier = next((v for v in entry.versions if v.sha256 == block.sha), None)
        if earlier is not None:  # content-addressed: these bytes already have a version
            self._revert(entry, block, earlier)
            return ("renamed" if message else "updated"), entry, message, "reverted"
        self._add_version(entry, block)
        return ("renamed" if message else "updated"), entry, message, entry.versions[-1].change

    def _create(self, block: ModelBlock, slots: dict[int, ModelEntry]) -> ModelEntry:
        meta = self._metadata(block)
        model_id = self._new_id(block, slots)
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

    def _add_version(self, entry: ModelEntry, block: ModelBlock) -> None:
        meta = self._metadata(block)
        kind = self._bump(entry, meta)
        declared = meta.get("declared_version")
        choice = versioning.next_version(entry, kind, declared)
        previous = entry.version
        now = utc_now()
        if choice.conflict:
            history.record(entry, "version_conflict", actor=self.actor, at=now,
                           reason=choice.conflict, declared=declared, version=choice.version)
            self.warnings.append({"event": "version_conflict", "model_id": entry.model_id,
                                  "path": block.path, "declared": declared,
                                  "version": choice.version, "message": choice.conflict})
        self._unindex(entry)
        self._apply(entry, block, meta, choice, now)
        self._index(entry)
        history.record(entry, "version_added", actor=self.actor, at=now, version=choice.version,
                       change=choice.change, previous=previous)
        self.changed = True

    def _revert(self, entry: ModelEntry, block: ModelBlock, record: VersionRecord) -> None:
        """The file holds the bytes of an earlier version again: make it current (no new
        number) and record a ``reverted`` event."""
        previous = entry.version
        now = utc_now()
        self._unindex(entry)
        self._set_fields(entry, block, self._metadata(block), record.version, now)
        self._index(entry)
        history.record(entry, "reverted", actor=self.actor, at=now, version=record.version,
                       previous=previous, sha256=block.sha)
        self.changed = True

    def _apply(self, entry: ModelEntry, block: ModelBlock, meta: dict[str, Any],
               choice: versioning.VersionChoice, now: str) -> None:
        """Append the new version and set the model's fields from it."""
        entry.versions.append(VersionRecord(
            version=choice.version, sha256=block.sha, registered_at=now, file_path=block.path,
            file_size_bytes=block.st.st_size, change=choice.change,
            metadata={k: v for k, v in meta.items() if k not in STRUCTURE_COPIES},
            findings=block.findings,
            signature=str(meta.get("signature") or "")))
        self._set_fields(entry, block, meta, choice.version, now)

    def _set_fields(self, entry: ModelEntry, block: ModelBlock, meta: dict[str, Any],
                    version: str, now: str) -> None:
        """Make ``version`` (whose bytes the file holds) current and set the model's fields."""
        prev = entry.current
        prev_tags = [str(t) for t in prev.metadata.get("tags") or []] if prev else []
        stem = base_name(block.path).rsplit(".", 1)[0] or block.path
        name = meta.get("model_name") or block.model.name or (
            stem if block.index == 0 else f"{stem} ({block.index + 1})")
        size = block.st.st_size
        entry.model_name = str(name)
        entry.file_path = block.path
        entry.file_size_bytes = size
        entry.updated_at = now
        entry.version = version
        # The model level keeps a summary of the current version's metadata (see the module
        # docstring); the full metadata is on the version record.
        kept = lifecycle.user_metadata(entry)  # a user's own keys survive new versions
        entry.metadata = {k: v for k, v in meta.items() if k not in VERSION_ONLY_KEYS}
        if kept:
            entry.metadata[lifecycle.USER_METADATA_KEY] = kept
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


__all__ = ["DELETED_MESSAGE", "NOT_GNN_MESSAGE", "PROSE_MESSAGE", "STRUCTURE_COPIES",
           "VERSION_ONLY_KEYS", "ModelBlock", "ModelRegistrar"]

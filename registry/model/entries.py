"""Value types of one registry entry: models, versions, history events, relationships.

Plain mutable dataclasses (the registry is changed by read-modify-write under a lock).
``to_dict``/``from_dict`` define each entry's JSON form; ``from_dict`` raises
``ValueError``/``KeyError``/``TypeError`` on data that does not match. Re-exported by
:mod:`registry.model.records`, which adds the whole document.

Times are ISO-8601 strings in UTC (``2026-11-27T03:36:02.123456Z``).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
"""Version of the on-disk JSON layout. Bumped only with a migration."""

ModelState = Literal["active", "deprecated", "archived", "removed"]
"""Lifecycle states (``removed``: the source file is gone; history is kept)."""

MODEL_STATES: tuple[ModelState, ...] = ("active", "deprecated", "archived", "removed")

ChangeKind = Literal["initial", "major", "minor", "patch", "declared"]
"""Why a version was minted: the first one, a structural bump, or a version the file declares."""


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string with microseconds and a ``Z`` suffix."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class FileStat:
    """What ``stat`` said about a source file when it was last read (for incremental scans).

    ``recorded_ns`` is when (``time.time_ns()``) this stat was taken: a file whose mtime is
    within 2 s of it is re-hashed on the next scan (the racy-git rule).
    """

    size: int
    mtime_ns: int
    inode: int
    device: int
    recorded_ns: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return {"size": self.size, "mtime_ns": self.mtime_ns, "inode": self.inode,
                "device": self.device, "recorded_ns": self.recorded_ns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileStat:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["size"]), int(data["mtime_ns"]), int(data["inode"]),
                   int(data["device"]), int(data.get("recorded_ns", 0)))


@dataclass(slots=True)
class VersionRecord:
    """One registered version of a model: content hash, where it came from, what it held."""

    version: str
    sha256: str
    registered_at: str
    file_path: str
    file_size_bytes: int
    change: ChangeKind
    metadata: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    signature: str = ""
    pruned: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": self.version,
            "sha256": self.sha256,
            "registered_at": self.registered_at,
            "file_path": self.file_path,
            "file_size_bytes": self.file_size_bytes,
            "change": self.change,
            "metadata": self.metadata,
            "findings": self.findings,
            "signature": self.signature,
            "pruned": self.pruned,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            version=str(data["version"]),
            sha256=str(data["sha256"]),
            registered_at=str(data["registered_at"]),
            file_path=str(data["file_path"]),
            file_size_bytes=int(data["file_size_bytes"]),
            change=data["change"],
            metadata=dict(data.get("metadata") or {}),
            findings=list(data.get("findings") or []),
            signature=str(data.get("signature", "")),
            pruned=bool(data.get("pruned", False)),
        )


@dataclass(slots=True)
class HistoryEvent:
    """One entry of a model's history.

    ``event`` is one of ``registered``, ``version_added``, ``reverted``, ``state_changed``,
    ``alias_moved``, ``alias_removed``, ``tags_changed``, ``renamed``, ``removed``,
    ``restored``, ``deleted``, ``versions_pruned``, ``version_conflict``. ``details`` holds
    the event's own fields (``version``, ``from``/``to``, ``alias``, ``tags``...); they are
    written flat beside ``at``, ``event``, ``actor`` and ``reason``.
    """

    at: str
    event: str
    actor: str = "gnn-registry"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (details flattened in)."""
        out: dict[str, Any] = {"at": self.at, "event": self.event, "actor": self.actor}
        if self.reason is not None:
            out["reason"] = self.reason
        for key, value in self.details.items():
            if key not in out:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEvent:
        """Inverse of :meth:`to_dict`."""
        known = {"at", "event", "actor", "reason"}
        return cls(
            at=str(data["at"]),
            event=str(data["event"]),
            actor=str(data.get("actor", "gnn-registry")),
            reason=data.get("reason"),
            details={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True, slots=True)
class Relationship:
    """A typed edge from this model to ``target`` (another model id).

    Types: ``depends_on``, ``derived_from`` (declared in front matter), ``same_family``
    (same structural signature), ``same_file`` (split from one multi-model file),
    ``renamed_from`` (file path the model had before a rename).
    """

    type: str
    target: str

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"type": self.type, "target": self.target}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Relationship:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["type"]), str(data["target"]))


@dataclass(slots=True)
class ModelEntry:
    """One model in the registry. The seed's fields keep their names at this level."""

    model_id: str
    model_name: str
    file_path: str
    file_size_bytes: int
    registered_at: str
    updated_at: str
    version: str
    state: ModelState = "active"
    tags: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    versions: list[VersionRecord] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    history: list[HistoryEvent] = field(default_factory=list)
    sha256: str = ""
    file_stat: FileStat | None = None
    source_index: int = 0
    deleted: bool = False
    findings: list[dict[str, Any]] = field(default_factory=list)

    def version_record(self, version: str) -> VersionRecord | None:
        """The record of ``version``, or ``None``."""
        for rec in self.versions:
            if rec.version == version:
                return rec
        return None

    @property
    def name(self) -> str:
        """The seed API's name for ``model_name``."""
        return self.model_name

    @property
    def current_version(self) -> str:
        """The seed API's name for ``version`` (the current version)."""
        return self.version

    @property
    def current(self) -> VersionRecord | None:
        """The record of the current version."""
        return self.version_record(self.version)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "model_id": self.model_id,
            "model_name": self.model_name,
            "file_path": self.file_path,
            "file_size_bytes": self.file_size_bytes,
            "registered_at": self.registered_at,
            "updated_at": self.updated_at,
            "version": self.version,
            "state": self.state,
            "tags": list(self.tags),
            "aliases": dict(self.aliases),
            "description": self.description,
            "metadata": self.metadata,
            "sha256": self.sha256,
            "file_stat": self.file_stat.to_dict() if self.file_stat else None,
            "source_index": self.source_index,
            "deleted": self.deleted,
            "findings": self.findings,
            "versions": [v.to_dict() for v in self.versions],
            "relationships": [r.to_dict() for r in self.relationships],
            "history": [h.to_dict() for h in self.history],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelEntry:
        """Inverse of :meth:`to_dict`."""
        state = data.get("state", "active")
        if state not in MODEL_STATES:
            msg = f"unknown state {state!r} for model {data.get('model_id')!r}"
            raise ValueError(msg)
        stat = data.get("file_stat")
        return cls(
            model_id=str(data["model_id"]),
            model_name=str(data["model_name"]),
            file_path=str(data["file_path"]),
            file_size_bytes=int(data["file_size_bytes"]),
            registered_at=str(data["registered_at"]),
            updated_at=str(data.get("updated_at", data["registered_at"])),
            version=str(data["version"]),
            state=state,
            tags=[str(t) for t in data.get("tags") or []],
            aliases={str(k): str(v) for k, v in (data.get("aliases") or {}).items()},
            description=str(data.get("description") or ""),
            metadata=dict(data.get("metadata") or {}),
            sha256=str(data.get("sha256", "")),
            file_stat=FileStat.from_dict(stat) if stat else None,
            source_index=int(data.get("source_index", 0)),
            deleted=bool(data.get("deleted", False)),
            findings=list(data.get("findings") or []),
            versions=[VersionRecord.from_dict(v) for v in data.get("versions") or []],
            relationships=[Relationship.from_dict(r) for r in data.get("relationships") or []],
            history=[HistoryEvent.from_dict(h) for h in data.get("history") or []],
        )


__all__ = [
    "MODEL_STATES",
    "SCHEMA_VERSION",
    "ChangeKind",
    "FileStat",
    "HistoryEvent",
    "ModelEntry",
    "ModelState",
    "Relationship",
    "VersionRecord",
    "utc_now",
]

"""The registry document: its models (a lazy mapping), header fields and JSON form.

These are plain mutable objects because the registry is changed by read-modify-write
under a lock: :mod:`registry.storage.store` loads a :class:`RegistryDoc`, the use cases change it,
and
the store writes the changed models back. The entry types live in :mod:`registry.model.entries`
and are re-exported here; ``RegistryDoc.models`` is a :class:`~registry.model.modelmap.ModelMap`
(the store's subclass reads entries from the database on first access).
``to_dict``/``from_dict`` are the complete JSON form of schema 1 (the JSON registry files of
earlier versions, imported on first open by :mod:`registry.storage.jsonimport`);
``from_dict`` raises ``ValueError``/``KeyError``/``TypeError`` on a document that does not
match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.model.entries import (
    MODEL_STATES,
    SCHEMA_VERSION,
    ChangeKind,
    FileStat,
    HistoryEvent,
    ModelEntry,
    ModelState,
    Relationship,
    VersionRecord,
    utc_now,
)
from registry.model.modelmap import ModelMap


@dataclass(slots=True)
class RegistryDoc:
    """The whole registry: its models and header fields.

    ``roots`` lists the directories scans have covered (absolute paths as given), so files
    that vanish from a scanned root can be marked ``removed``.
    """

    models: ModelMap = field(default_factory=ModelMap)
    generation: int = 0
    updated_at: str = ""
    roots: list[str] = field(default_factory=list)
    last_scan_at: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.models, ModelMap):
            given: Mapping[str, ModelEntry] = self.models
            self.models = ModelMap(given)

    def live_count(self) -> int:
        """How many models are not deleted (nothing decoded)."""
        return self.models.live_count()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (models sorted by id so the file diffs cleanly)."""
        return {
            "schema_version": self.schema_version,
            "generation": self.generation,
            "updated_at": self.updated_at,
            "last_scan_at": self.last_scan_at,
            "roots": list(self.roots),
            "models": {mid: self.models[mid].to_dict() for mid in sorted(self.models)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryDoc:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on an unknown schema version."""
        if not isinstance(data, dict):
            msg = "registry document is not a JSON object"
            raise TypeError(msg)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            msg = f"unsupported schema_version {version!r} (this build reads {SCHEMA_VERSION})"
            raise ValueError(msg)
        models_raw = data["models"]
        if not isinstance(models_raw, dict):
            msg = "registry 'models' is not a JSON object"
            raise TypeError(msg)
        models = ModelMap({str(mid): ModelEntry.from_dict(m) for mid, m in models_raw.items()})
        for mid, entry in models.items():
            if entry.model_id != mid:
                msg = f"model key {mid!r} does not match its model_id {entry.model_id!r}"
                raise ValueError(msg)
        return cls(
            models=models,
            generation=int(data["generation"]),
            updated_at=str(data.get("updated_at", "")),
            roots=[str(r) for r in data.get("roots") or []],
            last_scan_at=data.get("last_scan_at"),
        )


__all__ = [
    "MODEL_STATES",
    "SCHEMA_VERSION",
    "ChangeKind",
    "FileStat",
    "HistoryEvent",
    "ModelEntry",
    "ModelMap",
    "ModelState",
    "RegistryDoc",
    "Relationship",
    "VersionRecord",
    "utc_now",
]

"""Version pruning for ``cleanup_old_versions``: keep the registry under ``max_registry_size``.

When the registry's JSON grows past the limit, the store calls its ``prune_hook``
(:func:`prune_hook_for` gives it :func:`prune_versions` when ``cleanup_old_versions`` is on).
Pruning drops the metadata and findings of old versions, oldest registration first, until the
JSON fits. Each pruned version keeps its number, sha256, registration time, path, size and
change kind and gets ``pruned=True``, so version numbers are never reused and the history
still reads. Versions that are current or that an alias points at are never pruned. Each
model touched gets one ``versions_pruned`` history event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from registry.config import Config
from registry.model import history
from registry.model.records import RegistryDoc
from registry.model.rowcodec import dumps

_log = structlog.get_logger(__name__)

def _record_size(data: Any) -> int:
    return len(dumps(data))


def doc_size(doc: RegistryDoc) -> int:
    """About how many bytes the registry's content takes (compact JSON of every model)."""
    return sum(len(dumps(doc.models.raw(mid))) for mid in doc.models)


def _prunable(doc: RegistryDoc) -> list[tuple[str, str, str]]:
    """(registered_at, model_id, version) of every version pruning may drop, oldest first."""
    out: list[tuple[str, str, str]] = []
    for entry in doc.models.values():
        held = {entry.version, *entry.aliases.values()}
        out.extend((rec.registered_at, entry.model_id, rec.version)
                   for rec in entry.versions if not rec.pruned and rec.version not in held)
    out.sort()
    return out


def prune_versions(doc: RegistryDoc, max_bytes: int) -> bool:
    """Drop metadata and findings of old versions until the registry JSON fits ``max_bytes``.

    Versions that are current or aliased are kept whole. Each pruned version keeps its
    number, sha256, registration time, path, size and change kind and gets ``pruned=True``;
    each model touched gets one ``versions_pruned`` history event.

    Args:
        doc: the registry document (changed in place).
        max_bytes: the size the JSON form should stay under.

    Returns:
        True when anything was pruned.
    """
    size = doc_size(doc)
    if size <= max_bytes:
        return False
    pruned: dict[str, list[str]] = {}
    candidates = deque(_prunable(doc))
    while candidates and size > max_bytes:
        excess = size - max_bytes
        freed = 0
        while candidates and freed < excess:
            _, model_id, version = candidates.popleft()
            record = doc.models[model_id].version_record(version)
            assert record is not None
            before = _record_size(record.to_dict())
            record.metadata = {}
            record.findings = []
            record.pruned = True
            freed += before - _record_size(record.to_dict())
            pruned.setdefault(model_id, []).append(version)
        size = doc_size(doc)
    for model_id in sorted(pruned):
        entry = doc.models[model_id]
        history.record(entry, "versions_pruned", actor="gnn-registry",
                       versions=pruned[model_id], max_bytes=max_bytes)
    if pruned:
        _log.info("versions_pruned", models=len(pruned),
                  versions=sum(len(v) for v in pruned.values()), size=size, limit=max_bytes)
    return bool(pruned)


def prune_hook_for(config: Config) -> Callable[[RegistryDoc, int], bool] | None:
    """The store's ``prune_hook`` for ``config``: :func:`prune_versions` when
    ``cleanup_old_versions`` is on, else ``None``."""
    return prune_versions if config.cleanup_old_versions else None


__all__ = ["doc_size", "prune_hook_for", "prune_versions"]

"""Helpers shared by the storage tests (model builders and the crash-test writer script)."""

from __future__ import annotations

import hashlib

from registry.model.records import ModelEntry, VersionRecord, utc_now


def make_entry(model_id: str, *, version: str = "1.0.0", variables: int = 3) -> ModelEntry:
    """A small but complete model entry with one version record."""
    now = utc_now()
    sha = hashlib.sha256(f"{model_id}@{version}".encode()).hexdigest()
    record = VersionRecord(
        version=version, sha256=sha, registered_at=now, file_path=f"models/{model_id}.md",
        file_size_bytes=120, change="initial",
        metadata={"variables": variables, "connections": 2},
    )
    return ModelEntry(
        model_id=model_id, model_name=f"Model {model_id}", file_path=f"models/{model_id}.md",
        file_size_bytes=120, registered_at=now, updated_at=now, version=version,
        metadata={"variables": variables, "connections": 2}, versions=[record], sha256=sha,
    )


__all__ = ["make_entry"]

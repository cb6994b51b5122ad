"""The step-4 API's entry and version objects: thin, live views over the registry's store.

Upstream scripts read ``registry.models[id]`` and call methods on the entries they get
(``add_tag``, ``get_version``...). Here an entry is a :class:`ModelEntry` view: it holds only
its :class:`~registry.api.ModelRegistry` and a model id. Every attribute is read from the
registry's current document (as of its last change or ``load()``), and every method runs
one store transaction through the use-case functions of :mod:`registry.model.lifecycle` (or the
normal registration path), so each change is on disk, and in the model's history, when the
method returns. There is no second copy of the data to save.

Differences from the upstream objects, decided here:

- ``versions`` is a read-only mapping of version string to :class:`ModelVersion` (upstream:
  a dict), in registration order; ``tags`` and ``metadata`` return copies: change them with
  ``add_tag``/``remove_tag``/``update_metadata``, not by mutating the returned objects.
- ``metadata`` is the current version's extracted summary with the user's own keys
  (``update_metadata``) laid over it; the user keys survive new versions.
- ``add_tag``/``remove_tag``/``update_metadata`` return True when they changed something and
  False when the request already held (upstream returned ``None`` and did nothing then).
  An invalid tag or non-JSON metadata raises :class:`~registry.errors.TransitionError`.
- ``add_version(source=None)`` registers the model's own file as it is now on disk through the
  normal registration path (validation, semantic version bump from the structure, history)
  and returns the current :class:`ModelVersion`. Identical bytes make no new version (the
  current one is returned). ``source`` may name the model's file (a path, or an object with
  a ``file_path`` attribute such as upstream's ``ModelVersion``); another file is refused: register
  other files with ``ModelRegistry.register_model``.
- ``get_version(version=None)`` accepts a version number, an alias or ``latest``; ``None``
  when there is no such version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import NotFoundError, RegistryError, TransitionError
from registry.model import lifecycle
from registry.model.query import version_for
from registry.model.records import ModelEntry as EntryRecord
from registry.model.records import VersionRecord

if TYPE_CHECKING:
    from registry.api import ModelRegistry


REGISTERED = ("registered", "updated", "unchanged", "restored", "renamed")
"""Outcomes after which a file's models are registered and current."""


class RegistrationError(RegistryError, ValueError):
    """A file could not be registered (invalid, not a GNN model, unreadable)."""


class ModelVersion:
    """One version of a model (a view: read from the registry on each access).

    Attributes are the upstream ones (``version``, ``hash``, ``created_at``, ``metadata``,
    ``file_path``) plus ``change``, ``file_size_bytes`` and ``findings``.
    """

    __slots__ = ("_entry", "version")

    def __init__(self, entry: ModelEntry, version: str) -> None:
        self._entry = entry
        self.version = version

    def _record(self) -> VersionRecord:
        record = self._entry.record().version_record(self.version)
        if record is None:  # pragma: no cover - versions are never dropped from a model
            msg = f"model {self._entry.model_id!r} has no version {self.version!r}"
            raise NotFoundError(msg)
        return record

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the version's content."""
        return self._record().sha256

    @property
    def created_at(self) -> str:
        """When the version was registered (ISO-8601, UTC)."""
        return self._record().registered_at

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata extracted from this version (a copy; empty when pruned)."""
        return dict(self._record().metadata)

    @property
    def file_path(self) -> str:
        """The file this version was read from."""
        return self._record().file_path

    @property
    def file_size_bytes(self) -> int:
        """The file's size when this version was read."""
        return self._record().file_size_bytes

    @property
    def change(self) -> str:
        """Why the version was minted (``initial``, ``major``, ``minor``, ``patch``...)."""
        return self._record().change

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The validator's findings (warnings) recorded on this version."""
        return list(self._record().findings)

    def to_dict(self) -> dict[str, Any]:
        """Upstream's JSON shape of a version (``version``, ``hash``, ``created_at``...)."""
        record = self._record()
        return {"version": record.version, "file_path": record.file_path,
                "created_at": record.registered_at, "metadata": dict(record.metadata),
                "hash": record.sha256}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelVersion):
            return NotImplemented
        return (self._entry, self.version) == (other._entry, other.version)

    def __hash__(self) -> int:
        return hash((self._entry, self.version))

    def __repr__(self) -> str:
        return f"ModelVersion({self._entry.model_id!r}, {self.version!r})"


class _Versions(Mapping[str, ModelVersion]):
    """A model's versions by version string, in registration order (read-only, live)."""

    def __init__(self, entry: ModelEntry) -> None:
        self._entry = entry

    def _numbers(self) -> list[str]:
        return [v.version for v in self._entry.record().versions]

    def __getitem__(self, version: str) -> ModelVersion:
        if version not in self._numbers():
            raise KeyError(version)
        return ModelVersion(self._entry, version)

    def __iter__(self) -> Iterator[str]:
        return iter(self._numbers())

    def __len__(self) -> int:
        return len(self._entry.record().versions)

    def __repr__(self) -> str:
        return f"<versions of {self._entry.model_id!r}: {', '.join(self._numbers())}>"


class ModelEntry:
    """One registered model (a view over the registry's store; see the module docstring).

    Args:
        registry: the registry the model belongs to.
        model_id: the model's id.
    """

    __slots__ = ("_registry", "model_id")

    def __init__(self, registry: ModelRegistry, model_id: str) -> None:
        self._registry = registry
        self.model_id = model_id

    def record(self) -> EntryRecord:
        """The model's record in the registry's current document.

        Raises:
            NotFoundError: the model is no longer in the registry.
        """
        entry = self._registry.record(self.model_id)
        if entry is None:
            msg = f"no model {self.model_id!r} in the registry"
            raise NotFoundError(msg)
        return entry

    # -- attributes (read live) --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The model's name (``ModelName`` of the file)."""
        return self.record().model_name

    model_name = name

    @property
    def description(self) -> str:
        """The model's description (from the file)."""
        return self.record().description

    @property
    def current_version(self) -> str:
        """The current version number."""
        return self.record().version

    @property
    def created_at(self) -> str:
        """When the model was first registered (ISO-8601, UTC)."""
        return self.record().registered_at

    @property
    def updated_at(self) -> str:
        """When the model last changed (a version, a tag, metadata...)."""
        return self.record().updated_at

    @property
    def tags(self) -> list[str]:
        """The model's tags (a copy)."""
        return list(self.record().tags)

    @property
    def metadata(self) -> dict[str, Any]:
        """The current version's metadata summary with the user's keys laid over it (a copy)."""
        record = self.record()
        base = {k: v for k, v in record.metadata.items() if k != lifecycle.USER_METADATA_KEY}
        return {**base, **lifecycle.user_metadata(record)}

    @property
    def versions(self) -> Mapping[str, ModelVersion]:
        """Every version by version string, oldest first."""
        return _Versions(self)

    @property
    def state(self) -> str:
        """Lifecycle state: ``active``, ``deprecated``, ``archived`` or ``removed``."""
        return self.record().state

    @property
    def aliases(self) -> dict[str, str]:
        """Named pointers to versions (a copy)."""
        return dict(self.record().aliases)

    @property
    def file_path(self) -> str:
        """The model's source file."""
        return self.record().file_path

    @property
    def deleted(self) -> bool:
        """True once the model was deleted (its id stays reserved)."""
        return self.record().deleted

    # -- methods -------------------------------------------------------------------------------

    def get_version(self, version: str | None = None) -> ModelVersion | None:
        """The version ``version`` (a number, an alias or ``latest``); current when omitted.

        Returns:
            The version, or ``None`` when the model has no such version or alias.
        """
        record = self.record()
        try:
            number = version_for(record, "latest" if version is None else version)
        except NotFoundError:
            return None
        return ModelVersion(self, number) if record.version_record(number) else None

    def add_tag(self, tag: str) -> bool:
        """Add ``tag`` (recorded in history). False when the model already has it.

        Raises:
            TransitionError: an empty tag, control characters, or a deleted model.
        """
        if tag.strip() in self.record().tags:
            return False
        self._registry.change(self.model_id, lambda e: lifecycle.add_tags(
            e, [tag], actor=self._registry.config.actor))
        return True

    def remove_tag(self, tag: str) -> bool:
        """Remove ``tag`` (recorded in history). False when the model does not have it.

        Raises:
            TransitionError: the model is deleted.
        """
        if tag.strip() not in self.record().tags:
            return False
        self._registry.change(self.model_id, lambda e: lifecycle.remove_tags(
            e, [tag], actor=self._registry.config.actor))
        return True

    def update_metadata(self, metadata: Mapping[str, Any]) -> bool:
        """Merge ``metadata`` into the model's user metadata (kept across new versions).

        Returns:
            True when a value changed; False when the model already had these values.

        Raises:
            TransitionError: a key that is not text, a value that is not JSON, or a deleted
                model.
        """
        current = lifecycle.user_metadata(self.record())
        if metadata and all(k in current and current[k] == v for k, v in metadata.items()):
            return False
        self._registry.change(self.model_id, lambda e: lifecycle.update_metadata(
            e, metadata, actor=self._registry.config.actor))
        return True

    def add_version(self, source: Any = None) -> ModelVersion:
        """Register the model's file as it is now as a new version (see the module docstring).

        Args:
            source: ``None`` (the model's file), that file's path, or an object with a
                ``file_path`` attribute naming it.

        Returns:
            The model's current version afterwards (unchanged bytes: the same version).

        Raises:
            TransitionError: ``source`` names another file, or the model is deleted.
            RegistrationError: the file is invalid, not a GNN model, or unreadable (the
                message names the file and the first findings).
        """
        record = self.record()
        if record.deleted:
            msg = f"model {self.model_id!r} is deleted; register its file to revive it"
            raise TransitionError(msg)
        own = Path(record.file_path)
        raw = getattr(source, "file_path", source)
        if raw is not None and Path(raw).expanduser().absolute() != own:
            msg = (f"add_version registers the model's own file ({own}), not {raw}; use "
                   "ModelRegistry.register_model for other files")
            raise TransitionError(msg)
        outcome = self._registry.register_outcome(own)
        if self.model_id not in outcome.model_ids or outcome.status not in REGISTERED:
            raise RegistrationError(_outcome_message(own, outcome.status, outcome.message,
                                                     outcome.findings))
        return ModelVersion(self, self.record().version)

    def to_dict(self) -> dict[str, Any]:
        """Upstream's JSON shape of an entry (``versions`` keyed by version string)."""
        record = self.record()
        return {"model_id": record.model_id, "name": record.model_name,
                "description": record.description, "created_at": record.registered_at,
                "updated_at": record.updated_at,
                "versions": {v: ModelVersion(self, v).to_dict() for v in self.versions},
                "tags": list(record.tags), "metadata": self.metadata,
                "current_version": record.version}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelEntry):
            return NotImplemented
        return self._registry is other._registry and self.model_id == other.model_id

    def __hash__(self) -> int:
        return hash((id(self._registry), self.model_id))

    def __repr__(self) -> str:
        return f"ModelEntry({self.model_id!r})"


def _outcome_message(path: Path, status: str, message: str,
                     findings: list[dict[str, Any]]) -> str:
    """A one-line reason a file was not registered, naming the file (and a line)."""
    errors = [f for f in findings if f.get("severity") == "error"] or findings
    if errors:
        first = errors[0]
        detail = (f"{path}:{first.get('line') or 0}: {first.get('code')} "
                  f"{first.get('severity')}: {first.get('message')}")
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{detail}{more}"
    return f"{path}: {status}: {message or 'not registered'}"


__all__ = ["REGISTERED", "ModelEntry", "ModelVersion", "RegistrationError"]

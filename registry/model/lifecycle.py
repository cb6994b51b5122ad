"""Lifecycle and curation: model states, aliases, tags, deletion and version pruning.

Every function here changes a :class:`~registry.model.records.ModelEntry` (or the whole
:class:`~registry.model.records.RegistryDoc`) in memory and appends one history event through
:func:`registry.model.history.record`; the caller holds the store transaction that writes it.
A refused change raises :class:`~registry.errors.TransitionError` (or
:class:`~registry.errors.NotFoundError` for a version or alias that does not exist) and leaves
the entry untouched.

Manual state transitions (``set_state``):

============  ===========================
from          allowed to
============  ===========================
active        deprecated, archived
deprecated    active, archived
archived      active, deprecated
removed       (none: set and left by the scanner only)
============  ===========================

Decisions where the design is silent:

- ``removed`` means "the source file is gone". Only the scanner sets it
  (:func:`mark_removed`) and only the file's return leaves it (:func:`mark_returned`, always
  back to ``active`` as design.md section 5 says). A manual transition to or from
  ``removed`` is refused with a message naming that rule.
- A change that would change nothing (the same state, an alias that already points at the
  version, tags that are all present or all absent) is refused with a clear message rather
  than recorded as a no-op, so a history never holds events that did nothing and a script
  learns that its request was redundant (exit 1 in the CLI).
- Alias names match ``[A-Za-z][A-Za-z0-9_.-]*``; ``latest`` is reserved (it always means the
  current version and is resolvable but never stored). An alias may point only at a version
  that exists and whose metadata was not pruned.
- Tags are trimmed, must be non-empty and free of control characters; comparisons are exact.
- Deletion is a tombstone: ``deleted=True`` stays in the document so the id and its version
  numbers are never given out again. Deleted models are hidden from list, search and show.
- User metadata (:func:`update_metadata`, the library's ``ModelEntry.update_metadata``) lives
  under ``entry.metadata["user_metadata"]`` (:data:`USER_METADATA_KEY`): the rest of the
  model's ``metadata`` is rewritten from each new version, this key is carried over, so a
  user's keys survive new versions. Keys are non-empty text, values JSON; only the changed
  keys are named in the ``metadata_updated`` event.
- Pruning (``cleanup_old_versions``) lives in :mod:`registry.model.pruning` and is re-exported
  here (``prune_versions``, ``prune_hook_for``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from registry.errors import NotFoundError, TransitionError
from registry.model import history
from registry.model.pruning import prune_hook_for, prune_versions
from registry.model.records import MODEL_STATES, ModelEntry, RegistryDoc
from registry.model.relations import refresh_relationships

_log = structlog.get_logger(__name__)

TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"deprecated", "archived"}),
    "deprecated": frozenset({"active", "archived"}),
    "archived": frozenset({"active", "deprecated"}),
    "removed": frozenset(),
}
"""Allowed manual transitions (``set_state``); ``removed`` is managed by the scanner."""

RESERVED_ALIASES: frozenset[str] = frozenset({"latest"})
"""Alias names that resolve but can never be set (``latest`` is the current version)."""

ALIAS_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
"""What an alias name looks like (matched in full)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

USER_METADATA_KEY = "user_metadata"
"""Where :func:`update_metadata` keeps a user's own keys inside ``entry.metadata``."""


def _touch(entry: ModelEntry, at: str) -> None:
    entry.updated_at = at


def _require_live(entry: ModelEntry) -> None:
    if entry.deleted:
        msg = f"model {entry.model_id!r} is deleted; deleted models cannot be changed"
        raise TransitionError(msg)


def set_state(entry: ModelEntry, state: str, *, actor: str, reason: str) -> None:
    """Move ``entry`` to ``state`` by hand, checked against :data:`TRANSITIONS`.

    Args:
        entry: the model to change.
        state: ``active``, ``deprecated`` or ``archived``.
        actor: who asks (recorded in history).
        reason: why (required, recorded in history).

    Raises:
        TransitionError: unknown state, empty reason, same state, a transition to or from
            ``removed``, a deleted model, or a transition the table does not allow.
    """
    _require_live(entry)
    if state not in MODEL_STATES:
        msg = f"unknown state {state!r}; states are {', '.join(MODEL_STATES)}"
        raise TransitionError(msg)
    if not reason or not reason.strip():
        msg = "a reason is required to change a model's state"
        raise TransitionError(msg)
    current = entry.state
    if state == current:
        msg = f"model {entry.model_id!r} is already {current}"
        raise TransitionError(msg)
    if "removed" in (state, current):
        msg = (f"cannot change model {entry.model_id!r} from {current} to {state}: the state "
               "'removed' is set only by the scanner when the source file is gone, and left "
               "only when the file reappears")
        raise TransitionError(msg)
    if state not in TRANSITIONS[current]:  # pragma: no cover - the table allows all others
        msg = f"cannot change model {entry.model_id!r} from {current} to {state}"
        raise TransitionError(msg)
    event = history.record(entry, "state_changed", actor=actor, reason=reason.strip(),
                           **{"from": current, "to": state})
    entry.state = state
    _touch(entry, event.at)
    _log.info("state_changed", model_id=entry.model_id, from_state=current, to_state=state,
              actor=actor)


def mark_removed(entry: ModelEntry, *, actor: str, reason: str | None = None) -> bool:
    """Mark ``entry`` as ``removed`` because its source file is gone (scanner only).

    Records a ``removed`` event with ``from``/``to`` states; the caller must not record
    another one. A model already removed (or deleted) is left alone.

    Args:
        entry: the model whose file vanished.
        actor: the scanner's actor (``scan``, ``service``...).
        reason: optional text (for example the path that disappeared).

    Returns:
        True when the state changed.
    """
    if entry.deleted or entry.state == "removed":
        return False
    previous = entry.state
    event = history.record(entry, "removed", actor=actor, reason=reason,
                           **{"from": previous, "to": "removed"})
    entry.state = "removed"
    _touch(entry, event.at)
    return True


def mark_returned(entry: ModelEntry, *, actor: str) -> bool:
    """Bring a ``removed`` model back to ``active`` because its file reappeared.

    Records a ``restored`` event with ``from``/``to`` states; the caller must not record
    another one. A model that is not removed (or is deleted) is left alone.

    Returns:
        True when the state changed.
    """
    if entry.deleted or entry.state != "removed":
        return False
    event = history.record(entry, "restored", actor=actor, **{"from": "removed", "to": "active"})
    entry.state = "active"
    _touch(entry, event.at)
    return True


def check_alias_name(alias: str) -> None:
    """Refuse an alias name that is malformed or reserved.

    Raises:
        TransitionError: the name does not match :data:`ALIAS_PATTERN` or is reserved.
    """
    if alias in RESERVED_ALIASES:
        msg = f"alias {alias!r} is reserved: it always means the current version"
        raise TransitionError(msg)
    if not ALIAS_PATTERN.fullmatch(alias):
        msg = (f"invalid alias name {alias!r}: use a letter followed by letters, digits, "
               "'_', '.' or '-'")
        raise TransitionError(msg)


def move_alias(entry: ModelEntry, alias: str, version: str, *, actor: str,
               reason: str | None = None) -> str | None:
    """Point ``alias`` at ``version`` (creating the alias if needed).

    Args:
        entry: the model.
        alias: the alias name (``production``, ``champion``...).
        version: an existing, unpruned version number of the model.
        actor: who asks.
        reason: optional text recorded in history.

    Returns:
        The version the alias pointed at before, or ``None`` for a new alias.

    Raises:
        TransitionError: bad or reserved name, pruned version, deleted model, or the alias
            already points at ``version``.
        NotFoundError: the model has no such version.
    """
    _require_live(entry)
    check_alias_name(alias)
    record = entry.version_record(version)
    if record is None:
        known = ", ".join(v.version for v in entry.versions) or "none"
        msg = f"model {entry.model_id!r} has no version {version!r} (versions: {known})"
        raise NotFoundError(msg)
    if record.pruned:
        msg = (f"version {version} of model {entry.model_id!r} was pruned; an alias can only "
               "point at a version whose metadata is kept")
        raise TransitionError(msg)
    previous = entry.aliases.get(alias)
    if previous == version:
        msg = f"alias {alias!r} of model {entry.model_id!r} already points at {version}"
        raise TransitionError(msg)
    event = history.record(entry, "alias_moved", actor=actor, reason=reason, alias=alias,
                           **{"from": previous, "to": version})
    entry.aliases[alias] = version
    entry.aliases = dict(sorted(entry.aliases.items()))
    _touch(entry, event.at)
    return previous


def remove_alias(entry: ModelEntry, alias: str, *, actor: str,
                 reason: str | None = None) -> str:
    """Delete ``alias`` from ``entry``.

    Returns:
        The version the alias pointed at.

    Raises:
        TransitionError: ``alias`` is reserved or the model is deleted.
        NotFoundError: the model has no such alias.
    """
    _require_live(entry)
    if alias in RESERVED_ALIASES:
        msg = f"alias {alias!r} is reserved and cannot be removed"
        raise TransitionError(msg)
    if alias not in entry.aliases:
        known = ", ".join(sorted(entry.aliases)) or "none"
        msg = f"model {entry.model_id!r} has no alias {alias!r} (aliases: {known})"
        raise NotFoundError(msg)
    previous = entry.aliases.pop(alias)
    event = history.record(entry, "alias_removed", actor=actor, reason=reason, alias=alias,
                           **{"from": previous})
    _touch(entry, event.at)
    return previous


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if not tag or _CONTROL.search(tag):
            msg = f"invalid tag {raw!r}: tags must be non-empty text without control characters"
            raise TransitionError(msg)
        if tag not in out:
            out.append(tag)
    if not out:
        msg = "no tags given"
        raise TransitionError(msg)
    return out


def add_tags(entry: ModelEntry, tags: Iterable[str], *, actor: str,
             reason: str | None = None) -> list[str]:
    """Add ``tags`` to ``entry`` (those already present are skipped).

    Returns:
        The tags actually added, in the order given.

    Raises:
        TransitionError: an invalid tag, a deleted model, or every tag already present.
    """
    _require_live(entry)
    wanted = _clean_tags(tags)
    added = [t for t in wanted if t not in entry.tags]
    if not added:
        msg = f"model {entry.model_id!r} already has tag(s) {', '.join(wanted)}"
        raise TransitionError(msg)
    event = history.record(entry, "tags_changed", actor=actor, reason=reason, added=added,
                           removed=[])
    entry.tags.extend(added)
    _touch(entry, event.at)
    return added


def remove_tags(entry: ModelEntry, tags: Iterable[str], *, actor: str,
                reason: str | None = None) -> list[str]:
    """Remove ``tags`` from ``entry`` (those absent are skipped).

    Returns:
        The tags actually removed.

    Raises:
        TransitionError: an invalid tag, a deleted model, or no given tag present.
    """
    _require_live(entry)
    wanted = _clean_tags(tags)
    removed = [t for t in wanted if t in entry.tags]
    if not removed:
        msg = f"model {entry.model_id!r} has none of the tag(s) {', '.join(wanted)}"
        raise TransitionError(msg)
    event = history.record(entry, "tags_changed", actor=actor, reason=reason, added=[],
                           removed=removed)
    entry.tags = [t for t in entry.tags if t not in removed]
    _touch(entry, event.at)
    return removed


def user_metadata(entry: ModelEntry) -> dict[str, Any]:
    """The metadata a user set with :func:`update_metadata` (a copy; empty when none)."""
    value = entry.metadata.get(USER_METADATA_KEY)
    return dict(value) if isinstance(value, dict) else {}


def update_metadata(entry: ModelEntry, updates: Mapping[str, Any], *, actor: str,
                    reason: str | None = None) -> list[str]:
    """Merge ``updates`` into the model's user metadata (kept across new versions).

    Returns:
        The keys whose value changed, in the order given.

    Raises:
        TransitionError: a key that is not non-empty text without control characters, a
            value that is not JSON, a deleted model, or no value would change.
    """
    _require_live(entry)
    for key in updates:
        if not isinstance(key, str) or not key.strip() or _CONTROL.search(key):
            msg = f"invalid metadata key {key!r}: keys must be non-empty text"
            raise TransitionError(msg)
    try:
        clean = json.loads(json.dumps(dict(updates), allow_nan=False))
    except (TypeError, ValueError) as exc:
        msg = f"metadata values must be JSON (text, numbers, booleans, lists, objects): {exc}"
        raise TransitionError(msg) from exc
    current = user_metadata(entry)
    changed = [k for k, v in clean.items() if k not in current or current[k] != v]
    if not changed:
        msg = f"model {entry.model_id!r} already has this metadata"
        raise TransitionError(msg)
    event = history.record(entry, "metadata_updated", actor=actor, reason=reason, keys=changed)
    current.update(clean)
    entry.metadata = {**entry.metadata, USER_METADATA_KEY: current}
    _touch(entry, event.at)
    return changed


def delete_model(doc: RegistryDoc, model_id: str, *, actor: str,
                 reason: str | None = None) -> ModelEntry:
    """Tombstone ``model_id``: hide it everywhere but keep its id and version numbers reserved.

    Relationships are refreshed so no live model keeps an edge to the deleted one.

    Returns:
        The deleted entry.

    Raises:
        NotFoundError: no such model, or it is already deleted.
    """
    entry = doc.models.get(model_id)
    if entry is None or entry.deleted:
        msg = f"no model {model_id!r} in the registry"
        raise NotFoundError(msg)
    event = history.record(entry, "deleted", actor=actor, reason=reason, state=entry.state,
                           version=entry.version)
    entry.deleted = True
    _touch(entry, event.at)
    refresh_relationships(doc)
    _log.info("model_deleted", model_id=model_id, actor=actor)
    return entry


__all__ = [
    "ALIAS_PATTERN",
    "RESERVED_ALIASES",
    "TRANSITIONS",
    "USER_METADATA_KEY",
    "add_tags",
    "check_alias_name",
    "delete_model",
    "mark_removed",
    "mark_returned",
    "move_alias",
    "prune_hook_for",
    "prune_versions",
    "remove_alias",
    "remove_tags",
    "set_state",
    "update_metadata",
    "user_metadata",
]

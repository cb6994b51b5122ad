"""Append events to a model's history (one helper so every event has the same shape)."""

from __future__ import annotations

from typing import Any

from registry.model.records import HistoryEvent, ModelEntry, utc_now


def record(
    entry: ModelEntry,
    event: str,
    *,
    actor: str = "gnn-registry",
    reason: str | None = None,
    at: str | None = None,
    **details: Any,
) -> HistoryEvent:
    """Append ``event`` to ``entry.history`` and return it.

    Args:
        entry: the model whose history grows.
        event: the event name (see :class:`registry.model.records.HistoryEvent`).
        actor: who caused it (a user name, ``scan``, ``service``...).
        reason: why, when a person gave a reason.
        at: the time (now by default).
        details: the event's own fields (``version``, ``from``, ``to``, ``alias``...).
    """
    item = HistoryEvent(at=at or utc_now(), event=event, actor=actor, reason=reason,
                        details=details)
    entry.history.append(item)
    return item


__all__ = ["record"]

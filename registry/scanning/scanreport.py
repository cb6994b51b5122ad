"""The report of a scan: one outcome per file, counts, the exit code and the JSON summary.

:class:`ScanReport` is what :class:`registry.scanning.scan.Scanner` returns and what
``model_registry_summary.json``, ``gnn-registryd --scan --json`` and the library's
``process_model_registry`` show. :func:`log_outcome` writes the one structured event per file
(``file_processed`` or ``file_error``; nothing for an unchanged file, which was not read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from registry.scanning.scanio import STATUSES, FileOutcome

log = structlog.get_logger("registry.scanning.scan")

_VALID = ("registered", "updated", "unchanged", "restored", "renamed")
_CHANGES = frozenset({"registered", "updated", "removed", "restored", "renamed"})


def _exit_code(counts: dict[str, int]) -> int:
    return 1 if counts["invalid"] or counts["error"] or counts["deferred"] else 0


def _successful(counts: dict[str, int]) -> int:
    return sum(counts[status] for status in _VALID)


class DeferredOutcomes(Protocol):
    """Outcomes held compactly and built only on demand (a rescan's cache hits).

    Their statuses are only ``unchanged`` and ``skipped``: the summary needs their counts and
    the few skipped ones, never 10,000 ``unchanged`` objects.
    """

    counts: dict[str, int]
    """How many of each status."""

    def __len__(self) -> int: ...

    def build(self) -> list[FileOutcome]:
        """All of them, in order."""

    def notable(self) -> list[FileOutcome]:
        """The ones that are not ``unchanged``, in order."""


@dataclass(slots=True)
class ScanReport:
    """What one reconcile or batch did.

    Attributes:
        outcomes: one per file (and one per vanished file whose models were removed).
        registry_path: the registry file.
        total_models: models in the registry afterwards (deleted ones not counted).
        roots: the roots scanned (absolute).
        scanned_at: when the pass started (ISO-8601 UTC).
        duration_ms: how long it took.
        wrote: whether the registry file was written.
        from_cache: answered by the scan cache (:mod:`registry.scanning.scancache`): nothing had
            changed, and the registry itself was not read.
    """

    _outcomes: list[FileOutcome] = field(default_factory=list, repr=False)
    registry_path: str = ""
    total_models: int = 0
    roots: list[str] = field(default_factory=list)
    scanned_at: str = ""
    duration_ms: float = 0.0
    wrote: bool = False
    from_cache: bool = False
    _deferred: DeferredOutcomes | None = field(default=None, repr=False)

    @property
    def outcomes(self) -> list[FileOutcome]:
        """One outcome per file (deferred ones are built on first access)."""
        if self._deferred is not None:
            self._outcomes[:0] = self._deferred.build()
            self._deferred = None
        return self._outcomes

    @outcomes.setter
    def outcomes(self, value: list[FileOutcome]) -> None:
        self._outcomes = value
        self._deferred = None

    def defer(self, first: DeferredOutcomes, then: list[FileOutcome]) -> None:
        """Set the outcomes to ``first`` (built only if :attr:`outcomes` is read), then ``then``."""
        self._outcomes = then
        self._deferred = first

    def notable(self) -> list[FileOutcome]:
        """Every outcome except ``unchanged`` ones, without building deferred outcomes."""
        head = self._deferred.notable() if self._deferred is not None else []
        return head + [o for o in self._outcomes if o.status != "unchanged"]

    def _count(self) -> int:
        return len(self._outcomes) + (len(self._deferred) if self._deferred is not None else 0)

    @property
    def counts(self) -> dict[str, int]:
        """How many outcomes had each status (every status present, zeros included)."""
        out = dict.fromkeys(STATUSES, 0)
        if self._deferred is not None:
            for status, n in self._deferred.counts.items():
                out[status] = out.get(status, 0) + n
        for outcome in self._outcomes:
            out[outcome.status] = out.get(outcome.status, 0) + 1
        return out

    @property
    def invalid(self) -> list[FileOutcome]:
        """Outcomes of invalid files."""
        return [o for o in self.notable() if o.status == "invalid"]

    @property
    def errors(self) -> list[FileOutcome]:
        """Outcomes of files or directories that could not be read."""
        return [o for o in self.notable() if o.status == "error"]

    @property
    def exit_code(self) -> int:
        """0 when every GNN file is valid; 1 when some are invalid or unreadable."""
        return _exit_code(self.counts)

    @property
    def processed_files(self) -> int:
        """Files looked at (every outcome except models removed because a file vanished)."""
        return self._count() - self.counts["removed"]

    @property
    def successful_registrations(self) -> int:
        """Files whose models are registered and current (new, updated or unchanged)."""
        return _successful(self.counts)

    def to_summary(self) -> dict[str, Any]:
        """The JSON summary (``model_registry_summary.json``, ``--json``, the library).

        Keeps the seed's keys (``processed_files``, ``successful_registrations``,
        ``registry_path``, ``total_models``) and adds counts, the exit code, the invalid
        files with their findings, the errors, the skipped and deferred files (each with
        its reason) and the changes.
        """
        counts = self.counts
        invalid: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        skipped: list[dict[str, str]] = []
        deferred: list[dict[str, str]] = []
        changes: list[dict[str, Any]] = []
        for o in self.notable():
            status = o.status
            if status == "invalid":
                invalid.append({"path": o.path, "model_ids": o.model_ids,
                                "findings": o.findings})
            elif status == "error":
                errors.append({"path": o.path, "message": o.message})
            elif status == "skipped":
                skipped.append({"path": o.path, "message": o.message})
            elif status == "deferred":
                deferred.append({"path": o.path, "message": o.message})
            elif status in _CHANGES:
                changes.append({"path": o.path, "status": status, "model_ids": o.model_ids,
                                "version": o.version, "change": o.change})
        exit_code = _exit_code(counts)
        return {
            "scanned_at": self.scanned_at,
            "duration_ms": round(self.duration_ms, 1),
            "roots": list(self.roots),
            "registry_path": self.registry_path,
            "processed_files": self._count() - counts["removed"],
            "successful_registrations": _successful(counts),
            "invalid_files": counts["invalid"],
            "skipped_files": counts["skipped"],
            "error_files": counts["error"],
            "deferred_files": counts["deferred"],
            "total_models": self.total_models,
            "counts": counts,
            "exit_code": exit_code,
            "success": exit_code == 0,
            "registry_written": self.wrote,
            "from_scan_cache": self.from_cache,
            "invalid": invalid,
            "errors": errors,
            "skipped": skipped,
            "deferred": deferred,
            "changes": changes,
        }


LOGGED_PROBLEMS = 5
"""At most this many blocking findings of an invalid file are logged with their messages."""


def finding_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    """How many findings of each code, by code (a compact ``findings`` log field)."""
    counts: dict[str, int] = {}
    for finding in findings:
        code = str(finding.get("code"))
        counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


def problem_lines(findings: list[dict[str, Any]], limit: int = LOGGED_PROBLEMS) -> list[str]:
    """``line: CODE message`` for the first ``limit`` errors (warnings when there is none)."""
    chosen = [f for f in findings if f.get("severity") == "error"] or findings
    return [f"{f.get('line') or 0}: {f.get('code')} {f.get('message')}" for f in chosen[:limit]]


def log_outcome(outcome: FileOutcome) -> None:
    """Log the one event of a file's unit of work (nothing for an unchanged file).

    ``findings`` is a count per code (``{"GNN-W107": 30}``); an invalid file's event also
    carries ``problems``, the messages of its first :data:`LOGGED_PROBLEMS` blocking findings,
    so the log alone says why it was refused.
    """
    if outcome.status == "unchanged":
        return  # not a unit of work: the file was not read (the summary counts it)
    model_id: str | list[str] | None = (outcome.model_ids[0] if len(outcome.model_ids) == 1
                                        else outcome.model_ids or None)
    if outcome.status == "error":
        log.error("file_error", path=outcome.path, model_id=model_id, error=outcome.message,
                  duration_ms=round(outcome.duration_ms, 3))
        return
    fields: dict[str, Any] = {
        "path": outcome.path, "model_id": model_id, "version": outcome.version,
        "change": outcome.change, "status": outcome.status,
        "findings": finding_counts(outcome.findings),
        "duration_ms": round(outcome.duration_ms, 3),
    }
    if outcome.message:
        fields["message"] = outcome.message
    if outcome.status == "skipped":
        log.debug("file_processed", **fields)
    elif outcome.status in ("invalid", "deferred"):
        if outcome.findings:
            fields["problems"] = problem_lines(outcome.findings)
        log.warning("file_processed", **fields)
    else:
        log.info("file_processed", **fields)


__all__ = ["LOGGED_PROBLEMS", "DeferredOutcomes", "ScanReport", "finding_counts", "log_outcome",
           "problem_lines"]

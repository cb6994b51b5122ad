"""Reading, filtering and rendering the daemon's JSON log lines for ``gnn-registry logs``.

A log line is a JSON object with at least ``timestamp``, ``level`` and ``event`` (see
:mod:`daemon.logconfig`). Lines copied from ``journalctl`` (``Mar 01 12:00:00 host
gnn-registryd[42]: {...}``) are recognised too: the prefix is dropped. Anything else (stack
text, a shell's noise) is not a record and is shown as it is.

A rendered record reads ``HH:MM:SS.mmm LEVEL event path model@version change findings=N
12.3ms key=value ...``; values are escaped so a file name with a newline stays on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, TextIO

LEVELS: dict[str, int] = {
    "debug": 10, "info": 20, "notice": 25, "warning": 30, "warn": 30,
    "error": 40, "exception": 40, "critical": 50, "fatal": 50,
}
"""Level names (lower case) and their order; unknown levels count as ``info``."""

_LABELS = {10: "DEBUG", 20: "INFO", 25: "INFO", 30: "WARN", 40: "ERROR", 50: "CRIT"}
_COLOURS = {10: "\x1b[2m", 20: "\x1b[32m", 25: "\x1b[32m", 30: "\x1b[33m",
            40: "\x1b[1;31m", 50: "\x1b[1;41m"}
_RESET, _DIM, _BOLD, _CYAN = "\x1b[0m", "\x1b[2m", "\x1b[1m", "\x1b[36m"
_PLAIN = re.compile(r"[^\s\"'=\x00-\x1f\x7f]+")
_SHOWN_FIRST = ("timestamp", "level", "event", "path", "model", "model_id", "version",
                "change", "findings", "duration_ms", "exception")


def level_number(name: Any) -> int:
    """The order of a level name (``info`` when missing or unknown)."""
    return LEVELS.get(str(name).lower(), 20) if name is not None else 20


def parse_timestamp(value: Any) -> datetime | None:
    """A timezone-aware datetime from an ISO-8601 string (naive means UTC), or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def parse_line(line: str) -> tuple[dict[str, Any] | None, str]:
    """Split a line into its log record and the record's JSON text.

    Args:
        line: one line, with or without its newline.

    Returns:
        ``(record, json_text)`` for a JSON object (possibly after a journal prefix);
        ``(None, line)`` for anything else.
    """
    text = line.rstrip("\r\n")
    start = text.find("{")
    if start < 0:
        return None, text
    candidate = text[start:]
    try:
        record = json.loads(candidate)
    except ValueError:
        return None, text
    if not isinstance(record, dict) or (start > 0 and "event" not in record):
        return None, text
    return record, candidate


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which records to show: all conditions must hold (each list is an OR of its items).

    Attributes:
        min_level: the lowest level number shown (see :data:`LEVELS`).
        models: model ids; a record matches when its ``model`` or ``model_id`` is one.
        events: event names or glob patterns (``registry_*``).
        since: only records at or after this instant (records without a time pass).
    """

    min_level: int = 0
    models: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    since: datetime | None = None

    def accepts(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` passes every condition.

        Args:
            record: one parsed log record.

        Returns:
            ``True`` when it should be shown.
        """
        if level_number(record.get("level")) < self.min_level:
            return False
        if self.models:
            ids = {str(record[k]) for k in ("model", "model_id") if record.get(k) is not None}
            if not ids.intersection(self.models):
                return False
        if self.events and not any(fnmatchcase(str(record.get("event", "")), pattern)
                                   for pattern in self.events):
            return False
        if self.since is not None:
            stamp = parse_timestamp(record.get("timestamp"))
            if stamp is not None and stamp < self.since:
                return False
        return True


def _escape(text: str) -> str:
    """``text`` with every non-printable character written as an escape (one record, one
    line, nothing a terminal would act on): C0 and C1 controls, bidirectional overrides,
    lone surrogates of file names that are not UTF-8."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def _value(value: Any) -> str:
    """A compact, unambiguous rendering of one value for ``key=value``."""
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _findings(value: Any) -> str:
    """``findings=N``, ``findings=CODE,CODE`` or ``findings=CODEx30,CODE`` from a count, a
    list of findings or a count per code."""
    if isinstance(value, dict):
        if not value:
            return "findings=0"
        return "findings=" + ",".join(
            str(code) if n == 1 else f"{code}x{n}" for code, n in value.items())
    if isinstance(value, list):
        codes = [str(f.get("code")) for f in value if isinstance(f, dict) and f.get("code")]
        return "findings=" + (",".join(codes) if len(codes) == len(value) and codes
                              else str(len(value)))
    return "findings=" + _value(value)


def _exception_lines(value: Any) -> list[str]:
    """Indented lines for a structured exception (``dict_tracebacks``) or a text one."""
    if isinstance(value, str):
        return ["    " + _escape(line) for line in value.splitlines()]
    lines: list[str] = []
    for exc in value if isinstance(value, list) else [value]:
        if not isinstance(exc, dict):
            lines.append("    " + _escape(str(exc)))
            continue
        lines.append(f"    {exc.get('exc_type', 'Exception')}: "
                     f"{_escape(str(exc.get('exc_value', '')))}")
        for frame in exc.get("frames", []) or []:
            if isinstance(frame, dict):
                lines.append(f"      at {frame.get('filename')}:{frame.get('lineno')} "
                             f"in {frame.get('name')}")
    return lines


@dataclass(frozen=True, slots=True)
class Renderer:
    """Turns one record into one readable line (plus traceback lines).

    Attributes:
        color: add ANSI colours (only wanted on a terminal).
        utc: show times in UTC instead of the local time zone.
    """

    color: bool = False
    utc: bool = False

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and text else text

    def _clock(self, value: Any) -> str:
        stamp = parse_timestamp(value)
        if stamp is None:
            return "--:--:--.---"
        local = stamp.astimezone(UTC) if self.utc else stamp.astimezone()
        return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"

    def render(self, record: Mapping[str, Any]) -> str:
        """The display text for ``record`` (no trailing newline).

        Args:
            record: one parsed log record.

        Returns:
            One line, followed by indented traceback lines when the record has one.
        """
        number = level_number(record.get("level"))
        label = _LABELS.get(number, str(record.get("level", "INFO")).upper())
        parts = [self._paint(_DIM, self._clock(record.get("timestamp"))),
                 self._paint(_COLOURS.get(number, ""), f"{label:<5}"),
                 self._paint(_BOLD, _escape(str(record.get("event", ""))))]
        if record.get("path") is not None:
            parts.append(_escape(str(record["path"])))
        model = record.get("model", record.get("model_id"))
        if model is not None:
            version = record.get("version")
            parts.append(_escape(f"{model}@{version}" if version is not None else str(model)))
        elif record.get("version") is not None:
            parts.append("@" + _escape(str(record["version"])))
        if record.get("change") is not None:
            parts.append(_escape(str(record["change"])))
        if record.get("findings") is not None:
            parts.append(_escape(_findings(record["findings"])))
        duration = record.get("duration_ms")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            parts.append(f"{duration:.1f}ms")
        elif duration is not None:
            parts.append("duration_ms=" + _escape(_value(duration)))
        shown = set(_SHOWN_FIRST)
        if "model" in record and record.get("model_id", record["model"]) != record["model"]:
            shown.discard("model_id")  # both given and different: keep model_id visible
        for key, value in record.items():
            if key not in shown:
                parts.append(self._paint(_CYAN, _escape(str(key))) + "=" + _escape(_value(value)))
        lines = [" ".join(parts)]
        if record.get("exception") is not None:
            lines.extend(_exception_lines(record["exception"]))
        return "\n".join(lines)


class LogView:
    """Feeds lines through a filter to a renderer (or unchanged, for ``--json``) and writes them.

    Lines that are not records are written as they are, except right after a record the
    filter hid: such lines (tracebacks, continuation text) belong to the hidden record. In
    JSON mode only records are written, so the output stays valid JSON lines.
    """

    def __init__(self, out: TextIO, *, log_filter: LogFilter | None = None,
                 renderer: Renderer | None = None, json_mode: bool = False) -> None:
        """Write to ``out`` using ``log_filter`` and ``renderer`` (or raw JSON)."""
        self.out = out
        self.filter = log_filter or LogFilter()
        self.renderer = renderer or Renderer()
        self.json_mode = json_mode
        self._last_shown = True

    def feed(self, line: str) -> bool:
        """Process one line; return whether something was written."""
        record, text = parse_line(line)
        if record is None:
            if self.json_mode or not self._last_shown or not text.strip():
                return False
            self.out.write(text + "\n")
            return True
        self._last_shown = self.filter.accepts(record)
        if not self._last_shown:
            return False
        self.out.write((text if self.json_mode else self.renderer.render(record)) + "\n")
        return True


__all__ = ["LEVELS", "LogFilter", "LogView", "Renderer", "level_number", "parse_line",
           "parse_timestamp"]

"""The one place that configures logging (structlog, plus the stdlib bridge).

Each entry point (``gnn-registryd``, ``gnn-registry``) calls :func:`configure_logging` once;
library code only ever calls ``structlog.get_logger()``. Before that (and in a program that
only uses the library), :mod:`registry.logs` routes events to stdlib logging, silently.

Output is one JSON object per line when the stream is not a terminal (what journald
stores and ``gnn-registry logs`` reads) and, on a terminal, the very lines ``gnn-registry
logs`` would show for them (:class:`daemon.logview.Renderer`: time, level, event, path,
model@version, then ``key=value``); ``--log-format`` / ``log_format`` (``auto|json|console``)
overrides the choice. Every line is flushed as soon as it is written. JSON keeps
``ensure_ascii`` on, so newlines, other control characters and file names that are not UTF-8
are escaped and cannot forge a log line; the console renderer escapes every non-printable
character (C0 and C1 controls, bidirectional overrides, lone surrogates) the same way.

``drop_events`` leaves out events by name (``--scan`` without ``-v`` drops its per-file
events: the summary names the files that matter).

Records from stdlib ``logging`` (watchdog, filelock) at WARNING and above go through
structlog's :class:`~structlog.stdlib.ProcessorFormatter` and come out in the same format,
with a ``logger`` key naming their source.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import TextIO, cast

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from daemon.logview import Renderer
from registry.config import LOG_FORMATS, LOG_LEVELS, Config
from registry.logs import install_defaults as install_library_defaults

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_handler: logging.Handler | None = None
"""Our handler on the root logger, kept so a second configuration replaces it."""
_root_level: int | None = None
"""The root logger's level before we changed it (restored by :func:`reset_logging`)."""


def _escape_control_chars(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Escape control characters in the event text so a console line stays one line.

    The console renderer already shows other values with ``repr`` when they contain such
    characters; only the event text is printed raw.
    """
    value = event_dict.get("event")
    if isinstance(value, str) and _CONTROL.search(value):
        event_dict["event"] = _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
    return event_dict


def resolve_format(fmt: str | None, stream: TextIO) -> str:
    """``json`` or ``console``: ``auto`` (or ``None``) picks console only on a terminal.

    Args:
        fmt: ``auto``, ``json``, ``console`` or ``None``.
        stream: the stream logs go to.

    Returns:
        The concrete renderer name.

    Raises:
        ValueError: ``fmt`` is not a known format.
    """
    choice = (fmt or "auto").lower()
    if choice not in LOG_FORMATS:
        msg = f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}"
        raise ValueError(msg)
    if choice != "auto":
        return choice
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        tty = False
    return "console" if tty else "json"


class _StdStream:
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at the time of each write.

    structlog caches loggers, and each cached logger keeps its file object. Binding the
    *name* instead of the object means a later redirection (pytest's capture, a test's
    ``redirect_stdout``) is honoured, and a replaced stream that was closed is never used.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        return int(getattr(sys, self._name).write(text))

    def flush(self) -> None:
        getattr(sys, self._name).flush()

    def isatty(self) -> bool:
        return bool(getattr(sys, self._name).isatty())


def _bind_stream(stream: TextIO | None) -> TextIO:
    """The stream loggers write to: the process's std streams are looked up per write."""
    if stream is None or stream is sys.stdout:
        return cast(TextIO, _StdStream("stdout"))
    if stream is sys.stderr:
        return cast(TextIO, _StdStream("stderr"))
    return stream


class _DropEvents:
    """A processor that drops events whose name is in ``names``."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        if event_dict.get("event") in self.names:
            raise structlog.DropEvent
        return event_dict


class _LogViewRenderer:
    """The console renderer: the line ``gnn-registry logs`` shows for the same event."""

    def __init__(self, *, color: bool) -> None:
        self.renderer = Renderer(color=color)

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> str:
        return self.renderer.render(event_dict)


def _shared_processors(renderer: str) -> list[Processor]:
    """Processors both structlog's own events and stdlib records go through first."""
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if renderer == "json":
        # Exceptions as data, without frame locals: locals can hold model text or secrets.
        chain.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))
    else:
        chain.append(_escape_control_chars)
        chain.append(structlog.processors.format_exc_info)
    return chain


def _renderer(renderer: str, stream: TextIO) -> Processor:
    """The final processor: JSON (``ensure_ascii`` kept on) or the console renderer."""
    if renderer == "json":
        return structlog.processors.JSONRenderer()
    try:
        colors = stream.isatty()
    except (AttributeError, ValueError):
        colors = False
    return _LogViewRenderer(color=colors and not os.environ.get("NO_COLOR"))


def configure_logging(
    config: Config | None = None,
    *,
    fmt: str | None = None,
    level: str | None = None,
    stream: TextIO | None = None,
    drop_events: frozenset[str] = frozenset(),
) -> None:
    """Configure structlog and the stdlib bridge for this process.

    Args:
        config: settings to take ``log_format`` and ``log_level`` from (defaults otherwise).
        fmt: ``auto``, ``json`` or ``console``; overrides ``config.log_format``.
        level: ``debug``, ``info``, ``warning`` or ``error``; overrides ``config.log_level``.
        stream: where lines go (default: standard output). ``sys.stdout`` and
            ``sys.stderr`` are looked up at each write, so redirecting them later works. A
            command whose stdout carries results passes ``sys.stderr``.
        drop_events: event names never written.

    Raises:
        ValueError: an unknown format or level.
    """
    global _handler, _root_level  # noqa: PLW0603 - logging configuration is process-global
    out = _bind_stream(stream)
    renderer = resolve_format(fmt or (config.log_format if config else None), out)
    min_level = (level or (config.log_level if config else None) or "info").lower()
    if min_level not in LOG_LEVELS:
        msg = f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}"
        raise ValueError(msg)
    shared = _shared_processors(renderer)
    dropping: list[Processor] = [_DropEvents(drop_events)] if drop_events else []
    structlog.configure(
        processors=[*dropping, *shared, _renderer(renderer, out)],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        # PrintLogger prints with flush=True: each line reaches journald or `logs -f` at once.
        logger_factory=structlog.PrintLoggerFactory(file=out),
        # Not cached: module-level loggers must follow a reconfiguration (SIGHUP changes the
        # level; tests capture logs). The cost is a few microseconds per event.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _renderer(renderer, out)],
    )
    handler = logging.StreamHandler(out)  # StreamHandler flushes after every record
    handler.setFormatter(formatter)
    handler.setLevel(max(logging.WARNING, logging.getLevelName(min_level.upper())))
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    else:
        _root_level = root.level
    _handler = handler
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def reset_logging() -> None:
    """Undo :func:`configure_logging` (for tests): library defaults, root logger restored.

    structlog is reset and then given the library defaults again (events to stdlib logging,
    silent unless configured; see :mod:`registry.logs`), the state of a process that
    imported the package and configured nothing. Loggers are not cached, so every
    module-level logger follows the new configuration.
    """
    global _handler, _root_level  # noqa: PLW0603 - logging configuration is process-global
    structlog.reset_defaults()
    install_library_defaults()
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler = None
    if _root_level is not None:
        root.setLevel(_root_level)
        _root_level = None


__all__ = ["configure_logging", "reset_logging", "resolve_format"]

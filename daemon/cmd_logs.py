"""``gnn-registry logs [FILE] [-f]``: a readable, filterable view of the JSON log stream.

Reads JSON log lines from FILE, or from standard input when FILE is ``-`` or absent
(``journalctl -u gnn-registry -o cat | gnn-registry logs``; journal prefixes are dropped);
absent while standard input is a terminal, it is a usage error (exit 2) instead of a
silent wait,
and prints one readable line per record (see :mod:`daemon.logview`). ``--json`` passes the
records that match the filters through unchanged, for scripts.

``-f`` follows a growing file like ``tail -F``: it polls for new data, starts again from the
top when the file is truncated, and reopens the path when it is replaced (rotation: the
inode changed), after finishing what was left in the old file. Ctrl-C (SIGINT) stops it with
exit status 0. With standard input, ``-f`` simply reads until the writer closes the pipe.

Decisions: times are shown in the local time zone unless ``--utc`` is given (a naive
``--since`` is read in the same zone); records without a time pass ``--since``; a FILE
that does not exist is an error (exit 1), even with ``-f``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from daemon.common import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, error
from daemon.logview import LEVELS, LogFilter, LogView, Renderer

DEFAULT_POLL_INTERVAL = 0.25
"""Seconds between checks for new data while following a file."""


def _since(text: str) -> datetime:
    """``--since`` value: an ISO-8601 date or time, kept naive until the zone is known."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"not an ISO-8601 time: {text!r} (for example 2026-05-01T12:00:00Z)"
        raise argparse.ArgumentTypeError(msg) from exc


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``logs`` sub-command.

    Args:
        subparsers: the ``add_subparsers()`` object of ``gnn-registry``.
        common: the parent parser holding the shared options (``--json`` among them).
    """
    parser = subparsers.add_parser(
        "logs", parents=[common], help="pretty, filterable view of the JSON log stream",
        description="Render gnn-registry's JSON log lines readably, with filters.")
    parser.add_argument("file", nargs="?", default=None, metavar="FILE",
                        help="log file to read, or - for standard input (the default when "
                             "standard input is a pipe or a file)")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep reading as the file grows (survives truncation and rotation)")
    parser.add_argument("--level", choices=sorted(LEVELS, key=LEVELS.__getitem__),
                        default=None, help="lowest level shown")
    parser.add_argument("--model", action="append", default=[], metavar="ID",
                        help="only records about this model id (repeatable)")
    parser.add_argument("--event", action="append", default=[], metavar="NAME",
                        help="only this event name or glob pattern (repeatable)")
    parser.add_argument("--since", type=_since, default=None, metavar="ISO",
                        help="only records at or after this time")
    parser.add_argument("--utc", action="store_true", help="show times in UTC")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the output (default: only on a terminal)")
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL,
                        metavar="SECONDS", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run_logs)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def _use_color(choice: str, out: Any) -> bool:
    """Colours for ``always``, or for ``auto`` on a terminal without ``$NO_COLOR``."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def _emit_lines(buffer: bytes, feed: Callable[[str], bool], *, final: bool) -> bytes:
    """Feed every complete line in ``buffer``; return the unfinished rest (all if ``final``)."""
    *complete, rest = buffer.split(b"\n")
    for raw in complete:
        feed(raw.decode("utf-8", errors="replace"))
    if final and rest:
        feed(rest.decode("utf-8", errors="replace"))
        return b""
    return rest


def _same_file(handle: BinaryIO, path: Path) -> tuple[bool, int | None]:
    """Whether ``path`` still names the open file, and the path's current size."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False, None  # rotated away and not yet recreated
    mine = os.fstat(handle.fileno())
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev), st.st_size


def follow_file(path: Path, feed: Callable[[str], bool], *,
                interval: float = DEFAULT_POLL_INTERVAL,
                stop: threading.Event | None = None,
                flush: Callable[[], None] | None = None) -> None:
    """Feed ``path``'s lines to ``feed`` as they are written, until ``stop`` is set.

    Args:
        path: the file to follow (it must exist at the start).
        feed: called with each complete line, in order.
        interval: seconds between polls when there is no new data.
        stop: set it to end the loop (``None``: run until KeyboardInterrupt).
        flush: called after each batch of lines (to push output to a pipe).

    Raises:
        OSError: the file cannot be opened at the start.
    """
    halt = stop or threading.Event()
    handle: BinaryIO = path.open("rb")
    pending = b""
    try:
        while True:
            chunk = handle.read()
            if chunk:
                pending = _emit_lines(pending + chunk, feed, final=False)
                if flush is not None:
                    flush()
                continue
            same, size = _same_file(handle, path)
            if not same and size is not None:
                # Rotated: drain what the writer put in the old file since the last read,
                # then switch over to the new file from its start.
                pending = _emit_lines(pending + handle.read(), feed, final=True)
                try:
                    new = path.open("rb")
                except FileNotFoundError:
                    new = None  # removed again between stat and open: retry next poll
                if new is not None:
                    handle.close()
                    handle = new
                    continue
            elif same and size is not None and size < handle.tell():
                # Truncated in place (copytruncate, `: > file`): start again from the top.
                handle.seek(0)
                pending = b""
                continue
            if halt.wait(interval):
                break
    finally:
        _emit_lines(pending, feed, final=True)
        handle.close()


def _read_stream(stream: BinaryIO, feed: Callable[[str], bool],
                 flush: Callable[[], None]) -> None:
    """Feed every line of a byte stream, flushing after each so pipes show progress."""
    for raw in iter(stream.readline, b""):
        feed(raw.decode("utf-8", errors="replace"))
        flush()


def run_logs(args: argparse.Namespace) -> int:
    """Handler of ``gnn-registry logs``.

    Args:
        args: the parsed command line.

    Returns:
        ``0``; ``1`` when FILE cannot be read; ``2`` when there is no FILE and standard
        input is a terminal.
    """
    out = sys.stdout
    since: datetime | None = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC) if args.utc else since.astimezone()
    view = LogView(
        out,
        log_filter=LogFilter(
            min_level=LEVELS[args.level] if args.level else 0,
            models=tuple(args.model), events=tuple(args.event), since=since),
        renderer=Renderer(color=_use_color(args.color, out), utc=args.utc),
        json_mode=bool(getattr(args, "json_output", False)),
    )
    if args.file is None:
        if _is_terminal(sys.stdin):
            # Reading a terminal would wait, silently, for lines nobody is going to type.
            error("no log to read: give a FILE, or pipe the logs in "
                  "(journalctl -u gnn-registry -o cat | gnn-registry logs); "
                  "'-' reads the terminal")
            return EXIT_USAGE
        args.file = "-"
    try:
        if args.file == "-":
            _read_stream(sys.stdin.buffer, view.feed, out.flush)
            return EXIT_OK
        path = Path(args.file)
        try:
            if args.follow:
                follow_file(path, view.feed, interval=args.poll_interval, flush=out.flush)
            else:
                with path.open("rb") as handle:
                    for raw in handle:
                        view.feed(raw.decode("utf-8", errors="replace"))
        except OSError as exc:
            error(f"cannot read {path}: {exc.strerror or exc}")
            return EXIT_PROBLEMS
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops `logs -f`: a normal end, exit 0.
    out.flush()
    return EXIT_OK


__all__ = ["DEFAULT_POLL_INTERVAL", "follow_file", "register", "run_logs"]

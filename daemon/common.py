"""Command-line plumbing shared by ``gnn-registry`` and ``gnn-registryd``.

Only this package's entry points exit the process; everything below them raises typed
errors from :mod:`registry.errors`, which :func:`run_guarded` turns into exit codes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from registry.config import Config, load_config
from registry.errors import (
    ConfigError,
    NotFoundError,
    RegistryError,
    StoreError,
    TransitionError,
)
from registry.model.records import RegistryDoc
from registry.storage.store import RegistryStore

EXIT_OK = 0
"""Success (and: no invalid GNN file, no problem found, or a request that already held)."""
EXIT_PROBLEMS = 1
"""Some GNN files invalid, unreadable or still changing; a named model/version missing; a
refused transition; problems found."""
EXIT_FATAL = 2
"""Usage error (argparse's status), cannot read the config, a scan or watch directory that does
not exist, cannot read or write the registry, lock timeout."""
EXIT_USAGE = 2
"""A command line that makes no sense (argparse's own status for usage errors)."""
EXIT_INTERRUPTED = 130
"""The service was stopped at once by a second SIGINT."""


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options every command takes (see design.md section 3)."""
    group = parser.add_argument_group("common options")
    group.add_argument("--output-dir", type=Path, default=None,
                       help="registry output directory (default output/4_model_registry_output)")
    group.add_argument("--registry", type=Path, default=None, dest="registry_path",
                       help="registry file (default OUTPUT_DIR/model_registry.json)")
    group.add_argument("--config", type=Path, default=None, dest="config_file",
                       help="TOML configuration file")
    group.add_argument("--json", action="store_true", dest="json_output",
                       help="print machine-readable JSON")
    group.add_argument("--log-format", choices=("json", "console"), default=None,
                       help="log format (default: console on a TTY, JSON otherwise)")
    group.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       default=None, help="lowest log level written")


def version_text() -> str:
    """``gnn-registry X.Y.Z`` from the installed distribution's metadata."""
    try:
        number = metadata.version("gnn-registry")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        number = "unknown"
    return f"gnn-registry {number}"


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: print the version and exit 0."""
    parser.add_argument("--version", action="version", version=version_text())


def config_from_args(args: argparse.Namespace, **extra: Any) -> Config:
    """Build the :class:`Config` for a command from file, environment and its flags."""
    overrides: dict[str, Any] = {
        "output_dir": getattr(args, "output_dir", None),
        "registry_path": getattr(args, "registry_path", None),
        "log_format": getattr(args, "log_format", None),
        "log_level": getattr(args, "log_level", None),
    }
    overrides.update(extra)
    return load_config(getattr(args, "config_file", None),
                       overrides={k: v for k, v in overrides.items() if v is not None})


def check_directories(config: Config, *, files_too: bool = False) -> None:
    """Refuse a configuration whose directories are missing or are not directories.

    Args:
        config: the settings whose ``directories`` are checked.
        files_too: accept a regular file as well (``--scan`` takes single files).

    Raises:
        ConfigError: no directories, or one that does not exist (named, escaped).
    """
    if not config.directories:
        msg = "no directories to watch (give DIR arguments or set 'directories' in the config)"
        raise ConfigError(msg)
    for directory in config.directories:
        if directory.is_dir() or (files_too and directory.is_file()):
            continue
        what = "is not a directory" if directory.exists() else "does not exist"
        msg = f"directory {printable(str(directory))} {what}"
        raise ConfigError(msg)


_PLAIN = re.compile(r"[\n\x20-\x7e]*\Z")
"""Text that needs no escaping at all: printable ASCII and newlines (the common case)."""

_INDENTED = json.JSONEncoder(indent=2, ensure_ascii=False)


def _escape_json_text(text: str) -> str:
    """JSON text with every non-printable character written as a ``\\u`` escape.

    ``json.dumps(ensure_ascii=False)`` escapes only C0 controls: C1 controls (``\\x9b`` is
    a CSI on many terminals), bidirectional overrides and lone surrogates (file names that
    are not UTF-8) would reach the terminal raw, or fail to encode at all.
    """
    if text.isprintable() or _PLAIN.match(text):
        return text
    out: list[str] = []
    for ch in text:
        if ch.isprintable() or ch in "\n ":
            out.append(ch)
            continue
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout (non-printable characters escaped).

    Written piece by piece as it is encoded: a 10,000-file scan summary is never held
    whole in memory, nor walked character by character.
    """
    write = sys.stdout.write
    for piece in _INDENTED.iterencode(data):
        write(_escape_json_text(piece))
    write("\n")


def note(message: str) -> None:
    """Write one note line on stderr (``gnn-registry: note: ...``): nothing failed."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "gnn-registry"
    sys.stderr.write(f"{prog}: note: {printable(message)}\n")


def printable(text: str) -> str:
    """``text`` safe for one line of a terminal: control and format characters escaped.

    A file may be named ``x\\nforged.md:1: GNN-E000 error: ...``; printed as is, its name
    would add lines to the human output (or move the cursor, with an escape sequence).
    Newlines, tabs, escape sequences, NUL and bidirectional overrides are shown as Python
    escapes (``\\n``, ``\\x1b``, ``\\u202e``); other letters, accents and emoji stay as they are.

    Args:
        text: a path or message.

    Returns:
        The text with every non-printable character escaped.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def error(message: str) -> None:
    """Write one error line on stderr, prefixed with the program name (escaped)."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "gnn-registry"
    sys.stderr.write(f"{prog}: error: {printable(message)}\n")


def run_guarded(handler: Callable[[], int]) -> int:
    """Run ``handler`` and map the project's errors to exit codes with a clear message."""
    try:
        return handler()
    except ConfigError as exc:
        error(str(exc))
        return EXIT_FATAL
    except StoreError as exc:
        error(str(exc))
        return EXIT_FATAL
    except (NotFoundError, TransitionError) as exc:
        error(str(exc.args[0]) if exc.args else str(exc))
        return EXIT_PROBLEMS
    except RegistryError as exc:
        error(str(exc))
        return EXIT_FATAL
    except BrokenPipeError:
        # `gnn-registry list | head`: the reader went away; that is not our failure.
        return EXIT_OK



def load_doc(args: argparse.Namespace) -> RegistryDoc:
    """The registry named by the command's options, read without the lock.

    Raises:
        NotFoundError: there is no registry there (nothing is created).
    """
    store = RegistryStore(config_from_args(args))
    if not store.exists():
        msg = f"no registry at {printable(str(store.view_path))}"
        raise NotFoundError(msg)
    return store.load()


__all__ = [
    "EXIT_FATAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "add_common_options",
    "add_version_option",
    "check_directories",
    "config_from_args",
    "error",
    "load_doc",
    "note",
    "print_json",
    "printable",
    "run_guarded",
    "version_text",
]

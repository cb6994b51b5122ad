"""Command-line plumbing shared by ``gnn-registry`` and ``gnn-registryd``.

Only this package's entry points exit the process; everything below them raises typed
errors from :mod:`registry.errors`, which :func:`run_guarded` turns into exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
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

EXIT_OK = 0
"""Success (and: no invalid GNN file, no problem found)."""
EXIT_PROBLEMS = 1
"""Some GNN files invalid, a named model/version missing, a refused transition, problems found."""
EXIT_FATAL = 2
"""Cannot read the config, cannot write the registry, lock timeout."""


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


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


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
    """Write one error line on stderr, prefixed with the program name."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "gnn-registry"
    sys.stderr.write(f"{prog}: error: {message}\n")


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


__all__ = [
    "EXIT_FATAL",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "add_common_options",
    "config_from_args",
    "error",
    "print_json",
    "printable",
    "run_guarded",
]

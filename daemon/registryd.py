"""``gnn-registryd``: the service (``DIR...``) or a one-shot reconcile (``--scan DIR...``).

argv -> :class:`~registry.config.Config` -> either :func:`daemon.cmd_scan.run_scan` or
:class:`daemon.runner.Service`. Logging is configured here, once per process (again after a
SIGHUP reload, so a new ``log_level`` applies). Fatal errors (unreadable config, unwritable
registry, lock timeout, a directory that does not exist) exit with status 2 and one clear line
on stderr.

Directories: the ``DIR`` arguments when given, otherwise ``directories`` from the config file
or ``GNN_REGISTRY_DIRECTORIES``; like every flag, command-line directories win over the config,
also after a reload. They are made absolute (not resolved through symlinks) so event paths and
registry paths agree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemon.common import (
    EXIT_FATAL,
    add_common_options,
    config_from_args,
    error,
    run_guarded,
)
from registry.config import Config
from registry.errors import ConfigError
from registry.names import absolute


def build_parser() -> argparse.ArgumentParser:
    """The ``gnn-registryd`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="gnn-registryd",
        description=("Keep a GNN model registry current: reconcile the directories, then watch "
                     "them until SIGTERM/SIGINT (SIGHUP reloads the config). With --scan, "
                     "reconcile once and exit 0 (all valid), 1 (some invalid) or 2 (fatal)."),
    )
    parser.add_argument("dirs", nargs="*", type=Path, metavar="DIR",
                        help="directories to watch (default: 'directories' from the config)")
    parser.add_argument("--scan", action="store_true",
                        help="one reconcile pass, write, print a summary, exit")
    parser.add_argument("--settle-ms", type=int, default=None, metavar="MS",
                        help="quiet time before a changed path is processed (default 300)")
    parser.add_argument("--reconcile-interval", type=float, default=None, metavar="SECONDS",
                        help="seconds between periodic full reconciles (default 600)")
    parser.add_argument("--force-polling", action="store_true", default=None,
                        help="poll every directory instead of using inotify")
    add_common_options(parser)
    return parser


def _absolute(dirs: Sequence[Path]) -> tuple[Path, ...]:
    # Discovery's rule (abspath, not resolve()): the user's spelling of symlinked folders is
    # kept, so the watcher's event paths and the scanner's recorded paths agree.
    return tuple(Path(absolute(d)) for d in dirs)


def load_service_config(args: argparse.Namespace) -> Config:
    """The config for ``args``: file + environment + flags, with absolute directories.

    Args:
        args: parsed ``gnn-registryd`` arguments.

    Returns:
        The config; ``directories`` may be empty (the caller refuses that).

    Raises:
        ConfigError: unreadable config file or invalid value.
    """
    extra: dict[str, Any] = {
        "settle_ms": args.settle_ms,
        "reconcile_interval": args.reconcile_interval,
        "force_polling": args.force_polling,
    }
    if args.dirs:
        extra["directories"] = list(args.dirs)
    config = config_from_args(args, **{k: v for k, v in extra.items() if v is not None})
    return config.replace(directories=list(_absolute(config.directories)))


def _check_directories(config: Config) -> None:
    if not config.directories:
        msg = "no directories to watch (give DIR arguments or set 'directories' in the config)"
        raise ConfigError(msg)
    for directory in config.directories:
        if not directory.is_dir():
            what = "is not a directory" if directory.exists() else "does not exist"
            msg = f"directory {directory} {what}"
            raise ConfigError(msg)


def _serve(args: argparse.Namespace) -> int:
    from daemon.logconfig import configure_logging  # noqa: PLC0415 - after argv is valid

    config = load_service_config(args)
    if args.scan:
        # One-shot: stdout carries the summary (or --json), so the log stream goes to stderr.
        configure_logging(config, stream=sys.stderr)
        from daemon.cmd_scan import run_scan  # noqa: PLC0415 - only the one-shot path

        if not config.directories:
            error("no directories to scan (give DIR arguments or set 'directories')")
            return EXIT_FATAL
        return run_scan(config, config.directories, json_output=args.json_output)
    configure_logging(config)
    _check_directories(config)
    from daemon.runner import Service  # noqa: PLC0415 - watchdog is only loaded for the service

    return Service(config, reload_config=lambda: load_service_config(args),
                   on_config=configure_logging).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gnn-registryd`` console script.

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 clean stop or all files valid, 1 some files invalid (``--scan``),
        2 fatal error, 130 forced stop (second SIGINT).
    """
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _serve(args))


__all__ = ["build_parser", "load_service_config", "main"]

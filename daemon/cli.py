"""``gnn-registry``: validate files, query and curate the registry, read the logs.

Each sub-command lives in its own module with two functions:
``register(subparsers, common)`` adds its parser (``common`` is a parent parser with the
shared options) and sets ``handler=`` to a function ``(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from daemon.common import add_common_options, add_version_option, run_guarded
from daemon.logconfig import configure_logging

COMMAND_MODULES: tuple[str, ...] = (
    "daemon.cmd_validate",
    "daemon.cmd_query",
    "daemon.cmd_curate",
    "daemon.cmd_logs",
    "daemon.cmd_mcp",
)
"""Modules that each add sub-commands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``gnn-registry`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="gnn-registry",
        description="Query, curate and validate a GNN model registry.",
    )
    add_version_option(parser)
    common = argparse.ArgumentParser(add_help=False)
    add_common_options(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gnn-registry`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    # Logs go to stderr: stdout carries the command's results (--json output included).
    # A person at a terminal wants results, not an info line per write: warnings and up
    # unless --log-level asks for more (the service logs at info).
    configure_logging(fmt=args.log_format, level=args.log_level or "warning", stream=sys.stderr)
    return run_guarded(lambda: int(args.handler(args)))


__all__ = ["COMMAND_MODULES", "build_parser", "main"]

"""``gnn-registry mcp [--allow-write]``: serve the registry to MCP clients over stdio.

The server itself is :mod:`daemon.mcp_server`; it needs the optional extra
(``pip install 'gnn-registry[mcp]'``), imported only when the command runs, so ``--help``
and every other command work without it. Without the extra the command exits 2 with a
message saying what to install. stdout carries the protocol; logs go to stderr.
"""

from __future__ import annotations

import argparse
from typing import Any

from daemon.common import EXIT_FATAL, EXIT_OK, config_from_args, error

MISSING_EXTRA = ("the MCP server needs the optional 'mcp' dependency: "
                 "pip install 'gnn-registry[mcp]'")


def run(args: argparse.Namespace) -> int:
    """Handler of ``gnn-registry mcp``: serve until the client disconnects (exit 0)."""
    config = config_from_args(args)
    try:
        from daemon import mcp_server  # noqa: PLC0415 - the optional extra, loaded on use
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "mcp":
            raise
        error(MISSING_EXTRA)
        return EXIT_FATAL
    mcp_server.serve(config, allow_write=bool(args.allow_write))
    return EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``mcp`` sub-command."""
    parser = subparsers.add_parser(
        "mcp", parents=[common], help="serve the registry to MCP clients (stdio)",
        description="Run an MCP (Model Context Protocol) server over stdin/stdout with tools "
                    "list_models, get_model, search_models, model_history, diff_versions, "
                    "model_dependencies, validate_gnn and register_model, and resources for "
                    "each model's GNN source and metadata. MCP clients start this command "
                    "themselves. Needs: pip install 'gnn-registry[mcp]'.")
    parser.add_argument("--allow-write", action="store_true",
                        help="let clients register files (register_model); read-only otherwise")
    parser.set_defaults(handler=run)


__all__ = ["MISSING_EXTRA", "register", "run"]

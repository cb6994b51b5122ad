"""The registry as an MCP server (``gnn-registry mcp``): tools and resources over stdio.

The only module that imports the ``mcp`` SDK (the optional extra ``gnn-registry[mcp]``);
:mod:`daemon.cmd_mcp` imports it only when the command runs.

Tools mirror the CLI, and each returns, as one text content block, the same JSON that the
CLI's ``--json`` prints for the same request (built by :mod:`daemon.query_json`):

============================  ===============================================================
tool                          CLI equivalent
============================  ===============================================================
``list_models``               ``list [--state S] [--all]``
``get_model``                 ``show ID`` / ``show ID@VERSION`` (a version, alias or latest)
``search_models``             ``search QUERY [--any] [--no-removed]``
``model_history``             ``history ID``
``diff_versions``             ``diff ID V1 V2``
``model_dependencies``        ``deps ID``
``validate_gnn``              ``validate FILE [--strict]`` (a path, or the GNN text itself)
``register_model``            (write) register one file; refused without ``--allow-write``
============================  ===============================================================

Errors are tool results with ``isError`` set and the message the CLI prints after
``gnn-registry: error:`` (an unknown model, version or alias, a store problem). Where the
CLI exits 1 with JSON on stdout (``validate`` with findings that fail the file), the tool
returns that JSON with ``isError`` set. ``register_model`` returns the file's outcome
(``path``, ``status``, ``model_ids``, ``version``, ``change``, ``findings``...), with
``isError`` when the file was not registered. A malformed request gets a protocol error
from the SDK; an unexpected exception in a tool becomes an error result; the server keeps
serving either way.

Resources: ``gnn-registry://models`` (``list --json``), and per model
``gnn-registry://models/{model_id}/metadata`` (``show ID@latest --json``: the current
version's record with its metadata) and ``gnn-registry://models/{model_id}/source`` (the
current GNN text of the model's file; an error when the file is gone or changed since its
current version was registered).

Every request reads the store afresh (``RegistryStore.load()`` on a store object of its own,
no lock), so the server sees what the service and scans write while it runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import CallToolResult, TextContent

from daemon import query_json
from daemon.cmd_validate import UnreadableFileError, check_path, read_regular_file
from registry import __version__
from registry.config import Config
from registry.errors import NotFoundError, RegistryError, TransitionError
from registry.gnn.validate import check_bytes
from registry.model.query import get_entry
from registry.model.records import RegistryDoc
from registry.scanning.scan import Scanner
from registry.storage.store import RegistryStore

SERVER_NAME = "gnn-registry"
URI_PREFIX = "gnn-registry://models"
_NOT_REGISTERED = ("invalid", "error", "skipped")
WRITE_REFUSED = ("register_model is disabled: this server is read-only; start it with "
                 "`gnn-registry mcp --allow-write` to let clients register files")


def error_message(exc: RegistryError) -> str:
    """The message the CLI prints for ``exc`` (after ``gnn-registry: error:``)."""
    if isinstance(exc, NotFoundError | TransitionError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def _json_text(data: Any) -> str:
    """The CLI's ``--json`` text (:func:`daemon.common.print_json` without the newline)."""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def _text_result(text: str, *, is_error: bool) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=is_error)


class RequestError(Exception):
    """A request the tool refuses (bad arguments, writes on a read-only server)."""


class RegistryTools:
    """The tools' and resources' implementations over one registry (no MCP types inside)."""

    def __init__(self, config: Config, *, allow_write: bool) -> None:
        self.config = config
        self.allow_write = allow_write

    def store(self) -> RegistryStore:
        """A store object for one request.

        The SDK runs each tool call on a worker thread; a store object per request shares
        nothing between threads (connections and caches stay with the thread that made them).
        """
        return RegistryStore(self.config)

    def doc(self) -> RegistryDoc:
        """The registry as it is now."""
        return self.store().load()

    def source(self, model_id: str) -> str:
        """The current GNN text of ``model_id``'s file.

        Raises:
            NotFoundError: no such model.
            UnreadableFileError: the file is gone, unreadable, or changed since the
                current version was registered.
        """
        entry = get_entry(self.doc(), model_id)
        data = read_regular_file(entry.file_path)
        single = int(entry.metadata.get("model_count", 1) or 1) == 1
        if single and entry.sha256 and hashlib.sha256(data).hexdigest() != entry.sha256:
            msg = (f"{entry.file_path} changed since version {entry.version} of "
                   f"{model_id!r} was registered (not registered yet)")
            raise UnreadableFileError(msg)
        return data.decode("utf-8", errors="replace")

    def validate(self, text: str | None, path: str | None, *, strict: bool) -> dict[str, Any]:
        """``validate --json`` for one path or a GNN text (reported as path ``<text>``).

        Raises:
            RequestError: neither or both of ``text`` and ``path`` given.
        """
        if (text is None) == (path is None):
            msg = "validate_gnn needs exactly one of 'text' (GNN source) or 'path' (a file)"
            raise RequestError(msg)
        if path is not None:
            return check_path(path, strict=strict).to_dict()
        result = check_bytes((text or "").encode("utf-8"), strict=strict)
        return {"path": "<text>", "ok": result.ok,
                "findings": [finding.to_dict() for finding in result.findings]}

    def register(self, path: str) -> dict[str, Any]:
        """Register one file (only with ``allow_write``); its outcome as JSON.

        Raises:
            RequestError: the server is read-only.
        """
        if not self.allow_write:
            raise RequestError(WRITE_REFUSED)
        outcome = Scanner(self.config, self.store(), actor="mcp").register_file(path)
        return outcome.to_dict()


def _answer(call: Callable[[], Any], *,
            failed: Callable[[Any], bool] | None = None) -> CallToolResult:
    """The JSON of ``call()`` as a tool result; errors as error results with the message.

    Args:
        call: reads the store and builds the JSON data.
        failed: tells from the data whether the result is an error (``validate``'s exit 1).
    """
    try:
        data = call()
    except RegistryError as exc:
        return _text_result(error_message(exc), is_error=True)
    except RequestError as exc:
        return _text_result(str(exc), is_error=True)
    return _text_result(_json_text(data), is_error=bool(failed and failed(data)))


def build_server(config: Config, *, allow_write: bool = False) -> MCPServer[Any]:
    """The MCP server for the registry named by ``config``.

    Args:
        config: settings (registry path, strictness...).
        allow_write: let clients call ``register_model``.
    """
    tools = RegistryTools(config, allow_write=allow_write)
    mode = "read-write" if allow_write else "read-only"
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME, version=__version__,
        instructions=(f"A registry of GNN (Generalized Notation Notation) Active Inference "
                      f"models ({mode}). Results are the JSON of `gnn-registry ... --json`."))

    @server.tool(structured_output=False)
    def list_models(state: str | None = None, include_removed: bool = False) -> CallToolResult:
        """List registered models (like `gnn-registry list --json`).

        state: only models in this state (active, deprecated, archived, removed).
        include_removed: also list models whose source file is gone.
        """
        return _answer(lambda: query_json.list_json(tools.doc(), state=state,
                                                    include_removed=include_removed))

    @server.tool(structured_output=False)
    def get_model(model_id: str, version: str | None = None) -> CallToolResult:
        """One model, or one version of it (like `gnn-registry show ID[@VERSION] --json`).

        version: a version number, an alias (production...) or latest; omit for the model.
        """
        ref = f"{model_id}@{version}" if version else model_id
        return _answer(lambda: query_json.show_json(tools.doc(), ref))

    @server.tool(structured_output=False)
    def search_models(query: str, any_match: bool = False,
                      include_removed: bool = True) -> CallToolResult:
        """Search models (like `gnn-registry search QUERY --json`).

        query: words (matched in id, name, description, tags) and filters tag:, state:,
            ontology:, var:, section:, alias:, id:, name:; all must match unless any_match.
        """
        return _answer(lambda: query_json.search_json(tools.doc(), query, any_match=any_match,
                                                      include_removed=include_removed))

    @server.tool(structured_output=False)
    def model_history(model_id: str) -> CallToolResult:
        """A model's history (like `gnn-registry history ID --json`)."""
        return _answer(lambda: query_json.history_json(tools.doc(), model_id))

    @server.tool(structured_output=False)
    def diff_versions(model_id: str, v1: str, v2: str) -> CallToolResult:
        """Compare two versions (like `gnn-registry diff ID V1 V2 --json`).

        v1, v2: version numbers, aliases or latest.
        """
        return _answer(lambda: query_json.diff_json(tools.doc(), model_id, v1, v2))

    @server.tool(structured_output=False)
    def model_dependencies(model_id: str) -> CallToolResult:
        """A model's relationships, both directions (like `gnn-registry deps ID --json`)."""
        return _answer(lambda: query_json.deps_json(tools.doc(), model_id))

    @server.tool(structured_output=False)
    def validate_gnn(text: str | None = None, path: str | None = None,
                     strict: bool = False) -> CallToolResult:
        """Validate GNN without registering it (like `gnn-registry validate FILE --json`).

        Give the GNN source as text, or a file path. Findings that fail the file (errors;
        with strict, warnings too) set isError; the JSON lists every finding.
        """
        return _answer(lambda: [tools.validate(text, path, strict=strict)],
                       failed=lambda reports: not reports[0]["ok"])

    @server.tool(structured_output=False)
    def register_model(path: str) -> CallToolResult:
        """Register (or update) one GNN file; only on a server started with --allow-write."""
        return _answer(lambda: tools.register(path),
                       failed=lambda outcome: outcome["status"] in _NOT_REGISTERED)

    @server.resource(URI_PREFIX, name="models", mime_type="application/json",
                     description="Every registered model (gnn-registry list --json)")
    def models_resource() -> str:
        return _json_text(query_json.list_json(tools.doc()))

    @server.resource(URI_PREFIX + "/{model_id}/metadata", name="model-metadata",
                     mime_type="application/json",
                     description="A model's current version and its metadata "
                                 "(gnn-registry show ID@latest --json)")
    def metadata_resource(model_id: str) -> str:
        try:
            return _json_text(query_json.show_json(tools.doc(), f"{model_id}@latest"))
        except RegistryError as exc:
            raise ResourceError(error_message(exc)) from exc

    @server.resource(URI_PREFIX + "/{model_id}/source", name="model-source",
                     mime_type="text/markdown",
                     description="The current GNN source of a model's file")
    def source_resource(model_id: str) -> str:
        try:
            return tools.source(model_id)
        except RegistryError as exc:
            raise ResourceError(error_message(exc)) from exc
        except UnreadableFileError as exc:
            raise ResourceError(f"source of model {model_id!r}: {exc}") from exc

    return server


def serve(config: Config, *, allow_write: bool) -> None:
    """Serve the registry over stdio until the client closes the connection."""
    build_server(config, allow_write=allow_write).run("stdio")


__all__ = ["URI_PREFIX", "WRITE_REFUSED", "RegistryTools", "build_server", "error_message",
           "serve"]

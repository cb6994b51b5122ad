"""``gnn-registry mcp``: the real server in a subprocess, driven by the SDK's own stdio client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from daemon.mcp_server import WRITE_REFUSED
from registry import process_model_registry
from tests.helpers.daemon import console_script
from tests.test_scan import edit, gnn_text, write

pytestmark = pytest.mark.corpus

TOOLS = {"list_models", "get_model", "search_models", "model_history", "diff_versions",
         "model_dependencies", "validate_gnn", "register_model"}
TIMEOUT = 120


@pytest.fixture(scope="module", name="built")
def _built(tmp_path_factory, gnn_files):
    """A registry of the corpus plus one model of ours with two versions and an alias."""
    base = tmp_path_factory.mktemp("mcp")
    mine = base / "mine"
    agent = write(mine / "agent.md", gnn_text("Agent"))
    out = base / "out"
    assert process_model_registry(gnn_files, out)["total_models"] > 20
    process_model_registry(mine, out)
    edit(agent, gnn_text("Agent", variables=("A[3,3,type=float]", "s[3,1,type=float]",
                                             "o[3,1,type=float]", "u[2,1,type=int]")))
    process_model_registry(mine, out)
    cli("alias", "agent", "production", "1.0.0", out=out)
    return out, agent


def cli(*args: str, out: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(console_script("gnn-registry")), *args, "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def cli_json(*args: str, out: Path):
    return json.loads(cli(*args, "--json", out=out).stdout)


@asynccontextmanager
async def connected(out: Path, *extra: str):
    params = StdioServerParameters(
        command=str(console_script("gnn-registry")),
        args=["mcp", "--output-dir", str(out), *extra],
        env={k: v for k, v in os.environ.items() if k.startswith(("COVERAGE", "GNN_"))})
    with Path(os.devnull).open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write_), \
                ClientSession(read, write_) as session:
            await session.initialize()
            yield session


def text_of(result) -> str:
    assert len(result.content) == 1
    return result.content[0].text


async def ok_json(session, tool: str, **arguments):
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))


async def error_text(session, tool: str, **arguments) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


def run(scenario):
    """Run an async scenario with a deadline (a hung server fails the test, never blocks it)."""
    async def guarded():
        with anyio.fail_after(TIMEOUT):
            return await scenario()
    return anyio.run(guarded)


class TestReadOnlyServer:
    def test_tools_mirror_the_cli_json(self, built, gnn_files):
        """Each tool returns the JSON the CLI's --json prints for the same request."""
        out, _ = built
        family = next(m["model_id"] for m in cli_json("list", out=out)
                      if m["model_id"].startswith("pymdp_scaling"))
        corpus_file = next(iter(sorted(gnn_files.rglob("*.md"))))

        async def scenario():
            async with connected(out) as session:
                listed = await session.list_tools()
                assert {t.name for t in listed.tools} == TOOLS
                return {
                    "list": await ok_json(session, "list_models"),
                    "list_all": await ok_json(session, "list_models", include_removed=True),
                    "show": await ok_json(session, "get_model", model_id="agent"),
                    "show_v": await ok_json(session, "get_model", model_id="agent",
                                            version="1.0.0"),
                    "show_alias": await ok_json(session, "get_model", model_id="agent",
                                                version="production"),
                    "search": await ok_json(session, "search_models", query="pomdp"),
                    "search_tag": await ok_json(session, "search_models",
                                                query="agent nothing-like-this",
                                                any_match=True),
                    "history": await ok_json(session, "model_history", model_id="agent"),
                    "diff": await ok_json(session, "diff_versions", model_id="agent",
                                          v1="production", v2="latest"),
                    "deps": await ok_json(session, "model_dependencies", model_id=family),
                    "validate": await ok_json(session, "validate_gnn",
                                              path=str(corpus_file)),
                }

        got = run(scenario)
        assert got["list"] == cli_json("list", out=out)
        assert got["list_all"] == cli_json("list", "--all", out=out)
        assert got["show"] == cli_json("show", "agent", out=out)
        assert got["show_v"] == cli_json("show", "agent@1.0.0", out=out)
        assert got["show_alias"]["version"] == "1.0.0"
        assert got["search"] == cli_json("search", "pomdp", out=out)
        assert got["search"]  # the corpus has POMDP models
        assert got["search_tag"] == cli_json("search", "--any", "agent", "nothing-like-this",
                                             out=out)
        assert got["history"] == cli_json("history", "agent", out=out)
        assert got["diff"] == cli_json("diff", "agent", "production", "latest", out=out)
        assert got["diff"]["bump"] == "minor"
        assert got["deps"] == cli_json("deps", family, out=out)
        validated = cli("validate", str(corpus_file), "--json", out=out, check=False)
        assert got["validate"] == json.loads(validated.stdout)

    def test_errors_are_tool_errors_with_the_cli_message(self, built):
        """Unknown id, bad version, invalid GNN, a write on a read-only server: error results."""
        out, _ = built

        async def scenario():
            async with connected(out) as session:
                return {
                    "unknown": await error_text(session, "get_model", model_id="nope"),
                    "version": await error_text(session, "get_model", model_id="agent",
                                                version="9.9.9"),
                    "diff": await error_text(session, "diff_versions", model_id="agent",
                                             v1="1.0.0", v2="7.0.0"),
                    "history": await error_text(session, "model_history", model_id="nope"),
                    "invalid": await error_text(session, "validate_gnn",
                                                text=gnn_text(params=("A={(1.0)}",))),
                    "neither": await error_text(session, "validate_gnn"),
                    "write": await error_text(session, "register_model", path=str(out)),
                    "missing_arg": await error_text(session, "get_model"),
                    "no_tool": await error_text(session, "no_such_tool"),
                    "valid": await ok_json(session, "validate_gnn", text=gnn_text()),
                    "still_alive": await ok_json(session, "get_model", model_id="agent"),
                }

        found = run(scenario)
        for key, args in (("unknown", ("show", "nope")), ("version", ("show", "agent@9.9.9")),
                          ("diff", ("diff", "agent", "1.0.0", "7.0.0")),
                          ("history", ("history", "nope"))):
            proc = cli(*args, out=out, check=False)
            assert proc.returncode == 1
            assert proc.stderr.strip() == f"gnn-registry: error: {found[key]}"
        invalid = json.loads(found["invalid"])
        assert invalid[0]["path"] == "<text>"
        assert invalid[0]["ok"] is False
        assert any(f["severity"] == "error" for f in invalid[0]["findings"])
        assert "exactly one of 'text'" in found["neither"]
        assert found["write"] == WRITE_REFUSED
        assert "model_id" in found["missing_arg"]
        assert found["valid"][0]["ok"] is True
        assert found["still_alive"]["model_id"] == "agent"

    def test_resources(self, built):
        """A model's current GNN source and its metadata are resources."""
        out, agent = built

        async def scenario():
            async with connected(out) as session:
                templates = await session.list_resource_templates()
                source = await session.read_resource("gnn-registry://models/agent/source")
                meta = await session.read_resource("gnn-registry://models/agent/metadata")
                listing = await session.read_resource("gnn-registry://models")
                with pytest.raises(MCPError, match="no model 'nope'"):
                    await session.read_resource("gnn-registry://models/nope/metadata")
                return templates, source, meta, listing

        templates, source, meta, listing = run(scenario)
        uris = {t.uri_template for t in templates.resource_templates}
        assert uris == {"gnn-registry://models/{model_id}/source",
                        "gnn-registry://models/{model_id}/metadata"}
        assert source.contents[0].text == agent.read_text()
        assert json.loads(meta.contents[0].text) == cli_json("show", "agent@latest", out=out)
        assert json.loads(listing.contents[0].text) == cli_json("list", out=out)


class TestWritableServer:
    def test_register_model_with_allow_write(self, tmp_path):
        """With --allow-write a client registers a file; an invalid one is an error result."""
        good = write(tmp_path / "in" / "new_model.md", gnn_text("New"))
        bad = write(tmp_path / "in" / "bad.md", gnn_text(params=("A={(1.0)}",)))
        out = tmp_path / "out"

        async def scenario():
            async with connected(out, "--allow-write") as session:
                registered = await ok_json(session, "register_model", path=str(good))
                refused = json.loads(await error_text(session, "register_model",
                                                      path=str(bad)))
                shown = await ok_json(session, "get_model", model_id="new_model")
                edit(good, gnn_text("New", annotation="Edited, not registered yet."))
                with pytest.raises(MCPError, match=r"changed since version 1\.0\.0"):
                    await session.read_resource("gnn-registry://models/new_model/source")
            return registered, refused, shown

        registered, refused, shown = run(scenario)
        assert (registered["status"], registered["model_ids"]) == ("registered", ["new_model"])
        assert refused["status"] == "invalid"
        assert shown["version"] == "1.0.0"
        assert cli_json("show", "new_model", out=out)["model_id"] == "new_model"


class TestRobustness:
    def test_survives_a_malformed_request(self, built):
        """Garbage on stdin gets an error reply; the server keeps answering afterwards."""
        out, _ = built
        requests = [
            "this is not json",
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}}}),
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "get_model", "arguments": "not-an-object"}}),
            '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": ',
            json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                        "params": {"name": "get_model", "arguments": {"model_id": "agent"}}}),
        ]
        with subprocess.Popen(
                [str(console_script("gnn-registry")), "mcp", "--output-dir", str(out)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True) as proc:
            guard = threading.Timer(TIMEOUT, proc.kill)  # a hung server fails, never blocks
            guard.start()
            try:
                assert proc.stdin is not None
                assert proc.stdout is not None
                proc.stdin.write("\n".join(requests) + "\n")
                proc.stdin.flush()
                replies: dict[object, dict] = {}
                while 4 not in replies:  # the last request's reply: the server kept serving
                    line = proc.stdout.readline()
                    assert line, f"server stopped early: {proc.communicate()[1]}"
                    message = json.loads(line)
                    replies[message.get("id")] = message
                proc.stdin.close()  # EOF: the client is gone, the server stops cleanly
                stderr = proc.stderr.read() if proc.stderr else ""
                assert proc.wait() == 0, stderr
            finally:
                guard.cancel()
        assert "error" in replies[2]
        last = replies[4]["result"]
        assert last.get("isError") is not True
        assert json.loads(last["content"][0]["text"])["model_id"] == "agent"
        assert "Traceback" not in stderr


def test_missing_extra_gives_a_clear_message(tmp_path):
    """Without the mcp package the command says what to install and exits 2."""
    blocker = write(tmp_path / "block" / "mcp" / "__init__.py",
                    "raise ModuleNotFoundError(\"No module named 'mcp'\", name='mcp')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent.parent)}
    proc = subprocess.run([sys.executable, "-c", "from daemon.cli import main; "
                           "raise SystemExit(main(['mcp', '--output-dir', 'x']))"],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT,
                          check=False, cwd=tmp_path)
    assert proc.returncode == 2
    assert "pip install 'gnn-registry[mcp]'" in proc.stderr


def test_readme_client_snippet_starts_a_working_server(built):
    """The README's client configuration, as a client would run it, serves the registry."""
    out, _ = built
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = next(b.split("\n", 1)[1] for b in readme.split("```json")[1:] if "mcpServers" in b)
    entry = json.loads(block.split("```", 1)[0])["mcpServers"]["gnn-registry"]
    assert entry["command"] == "gnn-registry"
    args = [str(out) if a.startswith("/path/to/") else a for a in entry["args"]]

    async def scenario():
        params = StdioServerParameters(command=str(console_script(entry["command"])), args=args)
        with Path(os.devnull).open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write_), \
                    ClientSession(read, write_) as session:
                await session.initialize()
                return await ok_json(session, "list_models")

    assert run(scenario) == cli_json("list", out=out)

"""Issue 12, items 1 and 2: file names that are not UTF-8, names with a newline and model names
full of control and bidirectional characters go through every command, escaped.

Everything runs through the real console scripts on a real tree; output is decoded strictly
(a lone surrogate or invalid UTF-8 on stdout fails the test).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.helpers.cli import assert_terminal_safe, registry_cmd, run, scan, scan_json, text
from tests.helpers.daemon import gnn_text, registry_doc, running_daemon

EVIL_NAME = "Evil\x1b]0;pwned\x07 \u202eName\x9b2J\x85end"
"""A ``## ModelName`` with an OSC title sequence, a bell, a bidi override, a C1 CSI and NEL."""

NEWLINE_FILE = "nl\nforged.md:1: GNN-E000 error: injected.md"
"""A file name whose second line looks like a finding (and like a row of ``show``)."""


@pytest.fixture(name="tree")
def _tree(tmp_path: Path) -> dict[str, Path | bytes]:
    """A folder with a Latin-1 file name, a newline in a name and an evil model name."""
    root = tmp_path / "models"
    root.mkdir()
    latin = os.fsencode(root) + b"/bad_\xff.md"
    with open(latin, "wb") as handle:  # noqa: PTH123 - a bytes path, on purpose
        handle.write(gnn_text("Latin One").encode("utf-8"))
    (root / NEWLINE_FILE).write_text(gnn_text("Newline Name"), encoding="utf-8")
    (root / "evil.md").write_text(gnn_text(EVIL_NAME), encoding="utf-8")
    return {"root": root, "latin": latin, "out": tmp_path / "out"}


def _ids(out: Path) -> dict[str, str]:
    """File name -> model id, from ``list --json``."""
    proc = registry_cmd(out, "list", "--json")
    assert proc.returncode == 0, text(proc.stderr)
    rows = json.loads(text(proc.stdout))
    return {os.path.basename(r["file_path"]): r["model_id"] for r in rows}  # noqa: PTH119


class TestNonUtf8Names:
    """Item 1: a file name that is not UTF-8 breaks nothing."""

    def test_scan_registers_every_file_and_rescans_unchanged(self, tree) -> None:
        """The scan registers all three files (exit 0); the stored paths round-trip."""
        code, summary = scan_json(tree["out"], tree["root"])
        assert code == 0, summary
        assert summary["counts"]["registered"] == 3
        paths = {c["path"] for c in summary["changes"]}
        assert os.fsdecode(tree["latin"]) in paths
        # The registry file is valid UTF-8 JSON and gives the very same path back.
        raw = (tree["out"] / "model_registry.json").read_bytes().decode("utf-8")
        stored = {m["file_path"] for m in json.loads(raw)["models"].values()}
        assert os.fsdecode(tree["latin"]) in stored
        written = (tree["out"] / "model_registry_summary.json").read_bytes().decode("utf-8")
        assert os.fsdecode(tree["latin"]) in {c["path"] for c in json.loads(written)["changes"]}
        doc = registry_doc(tree["out"])
        assert os.fsdecode(tree["latin"]) in {e.file_path for e in doc.models.values()}
        # A rescan finds every file at the path the registry holds: all three unchanged (a
        # path that did not round-trip would be a new file, and the old one removed).
        code, again = scan_json(tree["out"], tree["root"])
        assert (code, again["counts"]["unchanged"], again["counts"]["removed"]) == (0, 3, 0)

    def test_text_summary_and_logs_escape_the_name(self, tree) -> None:
        """The text summary and the JSON log stream stay valid UTF-8; the logs view escapes."""
        proc = scan(tree["out"], tree["root"], args=("-v", "--log-format", "json"))
        assert proc.returncode == 0, proc.stderr
        assert_terminal_safe(text(proc.stdout))
        events = [json.loads(line) for line in text(proc.stderr).splitlines()]
        assert os.fsdecode(tree["latin"]) in {e.get("path") for e in events}
        view = run("gnn-registry", "logs", data=proc.stderr)
        assert view.returncode == 0, view.stderr
        shown = text(view.stdout)
        assert_terminal_safe(shown)
        assert "bad_\\udcff.md" in shown
        assert len([line for line in shown.splitlines() if "file_processed" in line]) == 3

    def test_service_registers_a_latin1_name(self, tree) -> None:
        """The service's reconcile and its batches survive such names (item 1, service)."""
        late = os.fsencode(tree["root"]) + b"/late_\xfe.md"
        with running_daemon(["--settle-ms", "50", tree["root"]], output_dir=tree["out"]) as d:
            d.wait_registry(lambda doc: len(doc.models) == 3, what="three models")
            with open(late, "wb") as handle:  # noqa: PTH123 - a bytes path, on purpose
                handle.write(gnn_text("Late Latin").encode("utf-8"))
            wanted = os.fsdecode(late)
            d.wait_registry(lambda doc: wanted in {e.file_path for e in doc.models.values()},
                            what="the late file registered")
            assert not d.find_logs("batch_failed")
            assert not d.find_logs("reconcile_failed")


class TestEscapedQueries:
    """Item 2: list, search, show and history escape names and paths."""

    def test_list_and_search(self, tree) -> None:
        """One row per model, every hostile character escaped, nothing else disturbed."""
        assert scan(tree["out"], tree["root"]).returncode == 0
        for args in (("list",), ("search", "evil"), ("search", "id:*")):
            proc = registry_cmd(tree["out"], *args)
            assert proc.returncode == 0, proc.stderr
            out = text(proc.stdout)
            assert_terminal_safe(out)
            rows = out.splitlines()[1:]
            assert len(rows) == (1 if args[-1] == "evil" else 3), out
        listing = text(registry_cmd(tree["out"], "list").stdout)
        assert "Evil\\x1b]0;pwned\\x07 \\u202eName\\x9b2J\\x85end" in listing

    def test_show_and_history(self, tree) -> None:
        """show prints one line per field (a newline in a path adds no row); history too."""
        assert scan(tree["out"], tree["root"]).returncode == 0
        ids = _ids(tree["out"])
        assert set(ids) == {"bad_\udcff.md", NEWLINE_FILE, "evil.md"}
        for model_id in ids.values():
            show = registry_cmd(tree["out"], "show", model_id)
            assert show.returncode == 0, show.stderr
            out = text(show.stdout)
            assert_terminal_safe(out)
            # Every line is a field ("name: ...") or an indented row: no forged line.
            for line in out.splitlines():
                assert re.match(r"^( |[a-z_]+:)", line), line
            history = registry_cmd(tree["out"], "history", model_id)
            assert history.returncode == 0
            assert_terminal_safe(text(history.stdout))
        show = text(registry_cmd(tree["out"], "show", ids[NEWLINE_FILE]).stdout)
        assert "nl\\nforged.md:1: GNN-E000" in show
        show = text(registry_cmd(tree["out"], "show", ids["evil.md"]).stdout)
        assert "\\u202e" in show
        as_json = registry_cmd(tree["out"], "show", ids["bad_\udcff.md"], "--json")
        entry = json.loads(text(as_json.stdout))
        assert entry["file_path"] == os.fsdecode(tree["latin"])

"""Issue 12, items 9-14, 16 and 17: what a person meets first on the command line.

Every test drives the real console scripts in subprocesses; terminals are real
pseudo-terminals (:func:`tests.helpers.cli.run_with_pty`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.cli import (
    registry_cmd,
    run,
    run_with_pty,
    scan,
    scan_json,
    text,
)
from tests.helpers.daemon import INVALID_GNN, console_script, gnn_text, write

WARNED = gnn_text("Warned") + "\n## ActInfOntologyAnnotation\ns=Banana\no=Kiwi\nA=Mango\n"
"""A valid model with three GNN-W107 warnings (terms outside the vocabulary)."""

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain(raw: bytes) -> str:
    """Terminal output without colours and with carriage returns as line breaks."""
    return ANSI.sub("", raw.decode("utf-8")).replace("\r", "\n")


class TestScanOnATerminal:
    """Item 9: a progress bar then the summary; per-file lines only with -v, logs-style."""

    @pytest.fixture(name="tree")
    def _tree(self, tmp_path: Path) -> Path:
        root = tmp_path / "models"
        for i in range(205):  # over PROGRESS_MIN: the bar is drawn
            write(root / f"m{i:03d}.md", gnn_text(f"Model {i}"))
        write(root / "warned.md", WARNED)
        return root

    def test_quiet_by_default(self, tree: Path, tmp_path: Path) -> None:
        """stderr (a terminal) has the bar and no per-file line; stdout has the summary."""
        argv = [console_script("gnn-registryd"), "--scan", "--output-dir", tmp_path / "out",
                tree]
        code, stdout, terminal = run_with_pty(argv, pty_stream="stderr")
        assert code == 0, terminal
        shown = _plain(terminal)
        assert "scanning [" in shown
        assert "file_processed" not in shown
        assert terminal.endswith(b"\r\x1b[K")  # the bar is erased: nothing runs into it
        assert text(stdout).startswith("scanned 206 files")

    def test_verbose_logs_each_file_like_the_logs_command(self, tree: Path,
                                                           tmp_path: Path) -> None:
        """-v: one `gnn-registry logs`-style line per file; repeated codes counted once."""
        argv = [console_script("gnn-registryd"), "--scan", "-v", "--output-dir",
                tmp_path / "out", tree]
        code, _stdout, terminal = run_with_pty(argv, pty_stream="stderr")
        assert code == 0
        lines = [line for line in _plain(terminal).splitlines() if "file_processed" in line]
        assert len(lines) == 206
        assert all(re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO  file_processed /", line)
                   for line in lines), lines[:3]
        [warned] = [line for line in lines if "warned.md" in line]
        assert "findings=GNN-W107x3" in warned
        assert "GNN-W107', 'GNN-W107" not in warned


class TestSummaryNamesFiles:
    """Item 10: skipped files are named, in the text summary and in --json."""

    def test_skipped_file_is_named(self, tmp_path: Path) -> None:
        """A README-style file is listed with its reason."""
        root, out = tmp_path / "models", tmp_path / "out"
        write(root / "a.md", gnn_text("A"))
        readme = write(root / "README.md", "# Notes\nJust prose.\n")
        proc = scan(out, root)
        assert proc.returncode == 0
        assert f"{readme}: skipped: not a GNN model" in text(proc.stdout)
        _code, summary = scan_json(out, root)
        assert [s["path"] for s in summary["skipped"]] == [str(readme)]
        assert "not a GNN model" in summary["skipped"][0]["message"]


class TestShowAndList:
    """Item 11: the current version's findings, and a file that has become invalid."""

    def test_current_findings_and_invalid_file(self, tmp_path: Path) -> None:
        """show ID lists the current version's warnings; an invalid file is marked."""
        root, out = tmp_path / "models", tmp_path / "out"
        path = write(root / "warned.md", WARNED)
        assert scan(out, root).returncode == 0
        show = text(registry_cmd(out, "show", "warned").stdout)
        assert "findings of version 1.0.0:" in show
        assert show.count("GNN-W107") == 3
        path.write_text(INVALID_GNN, encoding="utf-8")
        assert scan(out, root).returncode == 1
        listing = text(registry_cmd(out, "list").stdout)
        assert re.search(r"^warned +1\.0\.0 +active \(file invalid\)", listing, re.M), listing
        show = text(registry_cmd(out, "show", "warned").stdout)
        assert re.search(r"^state: +active \(file invalid\)$", show, re.M), show
        assert "the file is invalid now" in show
        rows = json.loads(text(registry_cmd(out, "list", "--json").stdout))
        assert rows[0]["file_invalid"] is True


@pytest.fixture(name="two_versions")
def _two_versions(tmp_path: Path) -> Path:
    """A registry where model ``agent`` has versions 1.0.0 and 1.1.0 and the tag ``grid``."""
    root, out = tmp_path / "models", tmp_path / "out"
    path = write(root / "agent.md", gnn_text("Agent"))
    assert scan(out, root).returncode == 0
    path.write_text(gnn_text("Agent", extra_vars="u[2,type=int]\n", extra_edges="u>s\n"),
                    encoding="utf-8")
    assert scan(out, root).returncode == 0
    assert registry_cmd(out, "tag", "agent", "grid").returncode == 0
    return out


class TestSearchFilters:
    """Item 12: unknown filters are errors; --help says how id: matches."""

    def test_unknown_filters_are_usage_errors(self, two_versions: Path) -> None:
        """tags:foo and bogus:x exit 2 with a hint; tag:grid and id:ag* work."""
        proc = registry_cmd(two_versions, "search", "tags:grid")
        assert proc.returncode == 2
        assert "unknown filter 'tags:'" in text(proc.stderr)
        assert "did you mean tag:?" in text(proc.stderr)
        proc = registry_cmd(two_versions, "search", "bogus:x")
        assert (proc.returncode, "unknown filter 'bogus:'" in text(proc.stderr)) == (2, True)
        for query in ("tag:grid", "id:ag*", "id:agent", "Example:"):
            rows = json.loads(text(registry_cmd(two_versions, "search", query,
                                                "--json").stdout))
            assert [r["model_id"] for r in rows] == ([] if query == "Example:" else ["agent"])

    def test_help_explains_whole_value_matching(self) -> None:
        """search --help says id: matches whole ids and shows the wildcard."""
        proc = run("gnn-registry", "search", "--help")
        assert proc.returncode == 0
        assert "id:pymdp*" in text(proc.stdout)


class TestDiffSyntax:
    """Item 13: diff takes show's ID@VERSION syntax."""

    def test_at_syntax_equals_positional(self, two_versions: Path) -> None:
        """diff ID@1.0.0 ID@1.1.0 prints what diff ID 1.0.0 1.1.0 prints."""
        positional = registry_cmd(two_versions, "diff", "agent", "1.0.0", "1.1.0")
        at_form = registry_cmd(two_versions, "diff", "agent@1.0.0", "agent@1.1.0")
        assert (positional.returncode, at_form.returncode) == (0, 0)
        assert at_form.stdout == positional.stdout
        assert "+ u[2] int" in text(at_form.stdout)
        assert registry_cmd(two_versions, "diff", "agent@1.0.0", "latest").returncode == 0
        other = registry_cmd(two_versions, "diff", "agent@1.0.0", "other@1.1.0")
        assert other.returncode == 2
        assert "one model" in text(other.stderr)


class TestLogsOnATerminal:
    """Item 14: `gnn-registry logs` with no file and a terminal on stdin does not wait."""

    def test_terminal_stdin_is_a_usage_error(self) -> None:
        """Exit 2 at once, with a message saying how to feed it."""
        code, _out, err = run_with_pty([console_script("gnn-registry"), "logs"],
                                       pty_stream="stdin")
        assert code == 2
        assert "no log to read" in text(err)

    def test_piped_stdin_still_works(self) -> None:
        """A pipe is read as before."""
        line = b'{"event": "hello", "level": "info", "timestamp": "2026-01-01T00:00:00Z"}\n'
        proc = run("gnn-registry", "logs", data=line)
        assert proc.returncode == 0
        assert "hello" in text(proc.stdout)


class TestIdempotentRequests:
    """Item 16: a request that already holds exits 0 with a note and writes nothing."""

    def test_tag_state_alias_already_holding(self, two_versions: Path) -> None:
        """tag, state, alias and tag --remove that change nothing: 0, a note, no write."""
        registry = two_versions / "model_registry.json"
        assert registry_cmd(two_versions, "alias", "agent", "prod", "1.0.0").returncode == 0
        generation = json.loads(registry.read_text(encoding="utf-8"))["generation"]
        for args, words in (
            (("tag", "agent", "grid"), "already has"),
            (("tag", "agent", "nope", "--remove"), "has none of"),
            (("state", "agent", "active", "--reason", "again"), "already active"),
            (("alias", "agent", "prod", "1.0.0"), "already points at 1.0.0"),
        ):
            proc = registry_cmd(two_versions, *args)
            assert proc.returncode == 0, (args, proc.stderr)
            assert "note:" in text(proc.stderr)
            assert words in text(proc.stderr)
        assert json.loads(registry.read_text(encoding="utf-8"))["generation"] == generation
        refused = registry_cmd(two_versions, "state", "agent", "removed", "--reason", "x")
        assert refused.returncode == 1  # a refused transition is still an error


class TestValidateAndVersion:
    """Item 17: validate DIR validates the GNN files under it; both scripts take --version."""

    def test_validate_directory(self, tmp_path: Path) -> None:
        """Files are found as --scan finds them; README-style files are skipped by name."""
        root = tmp_path / "models"
        write(root / "good.md", gnn_text("Good"))
        bad = write(root / "sub" / "bad.md", INVALID_GNN)
        readme = write(root / "README.md", "# About\nprose\n")
        write(root / ".hidden.md", INVALID_GNN)
        proc = run("gnn-registry", "validate", root)
        assert proc.returncode == 1
        out = text(proc.stdout)
        assert f"{bad}:0: GNN-E001 error:" in out
        assert f"{readme}: skipped: not a GNN model" in out
        assert ".hidden" not in out
        assert "2 file(s) checked: 1 ok, 1 failed, 1 skipped" in text(proc.stderr)
        assert run("gnn-registry", "validate", root / "sub" / ".." / "good.md").returncode == 0

    @pytest.mark.parametrize("script", ["gnn-registry", "gnn-registryd"])
    def test_version(self, script: str) -> None:
        """--version prints the distribution's version and exits 0."""
        proc = run(script, "--version")
        assert proc.returncode == 0
        assert re.fullmatch(r"gnn-registry \d+\.\d+\.\d+\S*\n", text(proc.stdout))

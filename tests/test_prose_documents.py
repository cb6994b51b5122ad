"""Issue 13, items 6 and 7: documents that show GNN in fenced code are skipped (not models,
not invalid), and ids do not depend on them; the front matter ``id:`` pins an id.

Real files in ``tmp_path``, the real scanner and registry store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from registry.gnn import check_bytes
from registry.model import ids
from registry.scanning.names import looks_like_gnn, shows_gnn_examples
from registry.scanning.register_models import NOT_GNN_MESSAGE, PROSE_MESSAGE
from tests.test_scan import gnn_text, load, scan, write

EXAMPLE = "## StateSpaceBlock\ns[2,type=float]\n\n## Connections\ns>o\n"


def prose(fence: str = "```", close: str | None = None) -> str:
    """A tutorial that shows a GNN snippet inside a fenced code block."""
    end = fence if close is None else close
    return (f"# Writing your first GNN model\n\nA model has sections, for example:\n\n"
            f"{fence}\n{EXAMPLE}{end}\n\nThat is all.\n")


class TestHeadingRule:
    """Headings inside fenced code do not count towards "is a GNN model"."""

    @pytest.mark.parametrize("fence", ["```", "```markdown", "~~~", "````"])
    def test_fenced_headings_make_prose(self, fence: str) -> None:
        close = fence if fence[0] == "~" else "`" * fence.count("`")
        text = prose(fence, close)
        assert not looks_like_gnn(text)
        assert shows_gnn_examples(text)

    def test_model_and_plain_readme(self) -> None:
        model = gnn_text("M")
        assert looks_like_gnn(model)
        assert not shows_gnn_examples(model)
        readme = "# Project\n\n## Install\n\npip install it\n"
        assert not looks_like_gnn(readme)
        assert not shows_gnn_examples(readme)

    def test_model_with_a_fenced_example_is_still_a_model(self) -> None:
        text = gnn_text("M", annotation=f"An example:\n```\n{EXAMPLE}```")
        assert looks_like_gnn(text)
        assert not shows_gnn_examples(text)

    def test_unclosed_fence_hides_nothing(self) -> None:
        """A fence that never closes is not a code block (see registry.gnn.fences)."""
        text = "Notes\n```\n" + EXAMPLE
        assert looks_like_gnn(text)

    def test_closing_fence_needs_same_character_and_length(self) -> None:
        text = prose("````", "```")  # a shorter run does not close: the block never ends
        assert looks_like_gnn(text)
        text = prose("```", "~~~")
        assert looks_like_gnn(text)

    def test_validate_says_why(self) -> None:
        """`validate` on such a document: E101 only, and the message says why."""
        result = check_bytes(prose().encode())
        assert [(f.code, f.line) for f in result.findings] == [("GNN-E101", None)]
        assert "inside fenced code blocks" in result.findings[0].message


class TestScan:
    def test_prose_is_skipped_with_its_reason(self, tmp_path: Path) -> None:
        models = tmp_path / "models"
        write(models / "agent.md", gnn_text("Agent"))
        write(models / "tutorial.md", prose())
        write(models / "README.md", "# Project\n\nNothing here.\n")
        report = scan(tmp_path)
        outcomes = {Path(o.path).name: (o.status, o.message) for o in report.outcomes}
        assert outcomes == {
            "agent.md": ("registered", ""),
            "tutorial.md": ("skipped", PROSE_MESSAGE),
            "README.md": ("skipped", NOT_GNN_MESSAGE),
        }
        assert report.exit_code == 0
        assert list(load(tmp_path).models) == ["agent"]

    def test_prose_is_skipped_on_every_scan_and_cached(self, tmp_path: Path) -> None:
        """The rescan is answered from the scan cache, which keeps the prose reason."""
        write(tmp_path / "models" / "tutorial.md", prose())
        write(tmp_path / "models" / "agent.md", gnn_text("Agent"))
        cached = []
        for _ in range(3):
            report = scan(tmp_path)
            assert [(Path(o.path).name, o.status, o.message) for o in report.outcomes
                    if o.status == "skipped"] == [("tutorial.md", "skipped", PROSE_MESSAGE)]
            cached.append(report.from_cache)
        assert cached == [False, True, True]

    def test_scan_cli_counts_it_skipped_not_invalid(self, tmp_path: Path) -> None:
        write(tmp_path / "models" / "tutorial.md", prose())
        write(tmp_path / "models" / "agent.md", gnn_text("Agent"))
        script = Path(sys.executable).with_name("gnn-registryd")
        proc = subprocess.run(
            [str(script), "--scan", "--json", "--output-dir", str(tmp_path / "out"),
             str(tmp_path / "models")],
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert (summary["successful_registrations"], summary["invalid_files"],
                summary["skipped_files"]) == (1, 0, 1)


class TestIds:
    """Item 7: a document sharing a stem with a model no longer takes the plain id."""

    def test_document_does_not_push_the_model_aside(self, tmp_path: Path) -> None:
        # "docs/..." sorts before "models/...": before the fix the document took "coin".
        # The document shows a whole, valid model: before the fix it was registered as one.
        essay = f"# An essay\n\nA full example:\n\n```\n{gnn_text('Shown')}```\n\nThe end.\n"
        write(tmp_path / "root" / "docs" / "coin.md", essay)
        write(tmp_path / "root" / "models" / "coin.md", gnn_text("Coin"))
        report = scan(tmp_path, tmp_path / "root")
        assert [(Path(o.path).parent.name, o.status, o.model_ids) for o in report.outcomes] == [
            ("docs", "skipped", []), ("models", "registered", ["coin"])]

    def test_front_matter_id_pins_the_id(self, tmp_path: Path) -> None:
        write(tmp_path / "models" / "a" / "agent.md", gnn_text("A1"))
        write(tmp_path / "models" / "b" / "agent.md", gnn_text("A2", front="id: pinned_agent"))
        scan(tmp_path)
        doc = load(tmp_path)
        assert sorted(doc.models) == ["agent", "pinned_agent"]
        assert doc.models["pinned_agent"].file_path.endswith("b/agent.md")

    def test_pin_taken_by_a_file_registered_earlier(self, tmp_path: Path) -> None:
        write(tmp_path / "models" / "a" / "coin.md", gnn_text("Other"))
        write(tmp_path / "models" / "z" / "x.md", gnn_text("Coin", front="id: coin"))
        scan(tmp_path)
        # a/coin.md registers first and takes "coin"; the pin then cannot be honoured.
        doc = load(tmp_path)
        assert sorted(doc.models) == ["coin", "coin_2"]
        assert doc.models["coin_2"].file_path.endswith("z/x.md")

    def test_taken_pin_gets_a_counter_and_a_warning(self, tmp_path: Path) -> None:
        write(tmp_path / "models" / "one.md", gnn_text("One", front="id: shared"))
        write(tmp_path / "models" / "two.md", gnn_text("Two", front="id: shared"))
        with capture_logs() as logs:
            scan(tmp_path)
        assert sorted(load(tmp_path).models) == ["shared", "shared_2"]
        warned = [e for e in logs if e.get("event") == "pinned_id_unavailable"]
        assert [(Path(e["path"]).name, e["model_id"]) for e in warned] == [("two.md", "shared_2")]

    def test_pin_is_kept_when_the_file_moves_and_ignored_later(self, tmp_path: Path) -> None:
        """The pin is read once, at registration; ids never change afterwards."""
        path = write(tmp_path / "models" / "m.md", gnn_text("M", front="id: fixed"))
        scan(tmp_path)
        write(path, gnn_text("M v2", front="id: other"), age=1800)
        scan(tmp_path)
        assert list(load(tmp_path).models) == ["fixed"]

    def test_multi_model_file_with_a_pin(self, tmp_path: Path) -> None:
        text = "---\nid: family\n---\n" + gnn_text("First") + "\n---\n" + gnn_text("Second")
        write(tmp_path / "models" / "whatever.md", text)
        scan(tmp_path)
        assert sorted(load(tmp_path).models) == ["family", "family--2"]

    @pytest.mark.parametrize(("pin", "expected"), [
        ("coin flip", "coin_flip"),
        ("../escape", "escape"),
        ("  spaced  ", "spaced"),
    ])
    def test_pin_is_made_safe(self, pin: str, expected: str) -> None:
        assert ids.allocate_id("dir/stem.md", set(), pinned=pin) == expected

    def test_blank_pin_falls_back_to_the_stem(self) -> None:
        assert ids.allocate_id("dir/stem.md", set(), pinned="  ") == "stem"

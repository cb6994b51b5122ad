"""Security: ids and folders stay inside the output dir, modes, log forging, no evaluation."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import tokenize
from pathlib import Path
from typing import Any

import pytest

from registry.config import Config
from registry.model.ids import is_safe_id
from registry.storage.store import RegistryStore
from tests.helpers.daemon import console_script, gnn_text, running_daemon, write

REPO = Path(__file__).resolve().parents[1]

ESCAPE_NAMES = [
    "..md", "...md", ".._.md", "%2e%2e.md", "%2e%2e%2f%2e%2e%2fetc.md", "..%2f..%2fx.md",
    "-.md", "--.md", "-----.md", "-rf.md", "_.md", "~.md", "\u200b.md", "\u202e\u202e.md",
    "\U0001f600\U0001f600.md", "\u0663\u0663.md", "CON.md", "nul.md", "x" * 250 + ".md",
    "\u00e9" * 120 + ".md", "a\\..\\..\\b.md", "back\\slash.md", "x\n..\n.md", " .md",
]
"""File names that try to make an id (a folder name) escape or misbehave."""

ESCAPE_DIRS = ["%2e%2e", "a b", "-", "--x", "\u202e", "x" * 200, "\u00e9\u0301"]
"""Folder names to nest the same hostile names in (parent-prefixed ids, counters)."""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without ``GNN_REGISTRY_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY_")}
    env.update(extra)
    return env


def scan(out: Path, root: Path, *, umask: int | None = None,
         args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``gnn-registryd --scan`` as a subprocess (optionally under another umask)."""
    def pre() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [str(console_script()), "--scan", *args, "--output-dir", str(out), str(root)],
        capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
        preexec_fn=pre, cwd=out.parent)


def all_files(top: Path) -> set[Path]:
    """Every path under ``top`` (not following symlinks)."""
    return {Path(d) / n for d, dirs, files in os.walk(top) for n in [*dirs, *files]}


class TestNoEscape:
    def test_hostile_names_stay_inside_output_dir(self, tmp_path: Path) -> None:
        """Every id is safe and every file the registry writes is inside the output folder."""
        root, out = tmp_path / "models", tmp_path / "out"
        for i, name in enumerate(ESCAPE_NAMES):
            write(root / name, gnn_text(f"Escape {i}"))
            for j, folder in enumerate(ESCAPE_DIRS):
                write(root / folder / name, gnn_text(f"Escape {i} {j}"))
        outside_before = all_files(tmp_path) - all_files(out) - {out}
        result = scan(out, root)
        assert result.returncode == 0, result.stderr[-2000:]
        assert all_files(tmp_path) - all_files(out) - {out} == outside_before
        store = RegistryStore(Config(output_dir=out))
        doc = store.load()
        # Hidden names (leading dot) are ignored by discovery; everything else registered.
        assert len(doc.models) >= (len(ESCAPE_NAMES) - 4) * (1 + len(ESCAPE_DIRS))
        resolved_out = out.resolve()
        for model_id in doc.models:
            assert is_safe_id(model_id), repr(model_id)
            assert "/" not in model_id
            assert model_id not in (".", "..")
            assert len(model_id.encode()) <= 255
            meta = store.metadata_path(model_id).resolve()
            assert meta.is_relative_to(resolved_out), meta
            assert meta.parent.parent == resolved_out
        for path in all_files(out):
            assert path.resolve().is_relative_to(resolved_out)
            assert not path.is_symlink()
        assert len(set(doc.models)) == len(doc.models)
        paths = [e.file_path for e in doc.models.values()]
        assert len(set(paths)) == len(paths)


def world_writable(top: Path) -> list[str]:
    """Paths under (and including) ``top`` whose mode lets others write."""
    found = [str(p) for p in [top, *all_files(top)] if p.lstat().st_mode & stat.S_IWOTH]
    return sorted(found)


@pytest.fixture(name="scanned_twice")
def _scanned_twice(tmp_path: Path) -> tuple[Path, Path]:
    root, out = tmp_path / "models", tmp_path / "out"
    write(root / "alpha.md", gnn_text("Alpha"))
    assert scan(out, root, umask=0).returncode == 0
    write(root / "alpha.md", gnn_text("Alpha", horizon=99))  # a backup is rotated
    assert scan(out, root, umask=0).returncode == 0
    return root, out


class TestModes:
    def test_files_never_world_writable_under_umask_zero(
            self, scanned_twice: tuple[Path, Path]) -> None:
        """With umask 0o000 the registry, backups, metadata and summary are still 0o644."""
        out = scanned_twice[1]
        files = [p for p in all_files(out) if p.is_file()]
        names = {p.name for p in files}
        assert {"model_registry.json", "model_registry_summary.json",
                "alpha_metadata.json"} <= names
        assert list((out / "backups").iterdir())
        assert [str(p) for p in files if p.stat().st_mode & stat.S_IWOTH] == []

    def test_directories_never_world_writable_under_umask_zero(
            self, scanned_twice: tuple[Path, Path]) -> None:
        """With umask 0o000 the output, backups and model folders are not world-writable."""
        out = scanned_twice[1]
        assert world_writable(out) == []


FORGED = 'x\n{"event":"forged","level":"critical"}\n.md'


class TestLogForging:
    def events_of(self, text: str) -> list[dict[str, Any]]:
        """Parse every line as JSON (fails on any line that is not)."""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def test_scan_log_lines_cannot_be_forged(self, tmp_path: Path) -> None:
        """A file name with newlines and JSON yields one parseable line per event, no forgery."""
        root, out = tmp_path / "models", tmp_path / "out"
        out.mkdir()
        write(root / FORGED, gnn_text("Forger"))
        write(root / "broken\n{}.md", "## ModelName\nx\n## StateSpaceBlock\n")
        result = scan(out, root, args=("--log-format", "json", "--log-level", "debug"))
        assert result.returncode == 1
        events = self.events_of(result.stderr)
        assert not [e for e in events if e.get("event") == "forged"]
        processed = [e for e in events if e.get("event") == "file_processed"
                     and e.get("path", "").endswith(FORGED)]
        assert len(processed) == 1
        assert processed[0]["path"] == str(root / FORGED)

    def test_human_summary_escapes_control_characters(self, tmp_path: Path) -> None:
        """The text summary prints an invalid file's name on one line (no injected lines)."""
        root, out = tmp_path / "models", tmp_path / "out"
        out.mkdir()
        name = "bad\nforged.md:1: GNN-E000 error: injected\n.md"
        write(root / name, "## ModelName\nx\n## StateSpaceBlock\n")
        result = scan(out, root)
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        assert not [line for line in lines if line.startswith(("forged.md", ".md"))]
        assert all(line.startswith(str(root)) for line in lines[2:])
        assert len(lines) > 2

    def test_validate_output_escapes_control_characters(self, tmp_path: Path) -> None:
        """``gnn-registry validate`` prints a forging file name on one line per finding."""
        name = "bad\nforged.md:1: GNN-E000 error: injected\n.md"
        path = write(tmp_path / name, "## ModelName\nx\n## StateSpaceBlock\n")
        result = subprocess.run([str(console_script("gnn-registry")), "validate", str(path)],
                                capture_output=True, text=True, env=clean_env(), timeout=60,
                                check=False)
        assert result.returncode == 1
        assert result.stdout.strip()
        assert all(line.startswith(str(tmp_path)) for line in result.stdout.splitlines())

    def test_service_log_lines_cannot_be_forged(self, tmp_path: Path) -> None:
        """The service logs a forging name as one JSON line per event."""
        root, out = tmp_path / "models", tmp_path / "out"
        root.mkdir()
        with running_daemon(["--settle-ms", "100", root], output_dir=out) as daemon:
            write(root / FORGED, gnn_text("Forger"))
            daemon.wait_log("file_processed", path=str(root / FORGED))
            assert daemon.stop() == 0
        events = daemon.events()  # every stdout line parsed as JSON
        assert not [e for e in events if e.get("event") == "forged"]


EVALUATORS = {"eval", "exec", "compile", "__import__", "literal_eval", "system", "popen",
              "Popen", "execv", "execvp", "spawnv", "run_path", "import_module"}
"""Calls that run or import code, whatever object they are called on."""

DESERIALIZERS = {"pickle", "yaml", "marshal", "shelve", "dill", "jsonpickle"}
"""Modules whose ``load``/``loads`` can build arbitrary objects."""

ALLOWED = {("compile", "re")}
"""``re.compile`` compiles a pattern, not code."""


class TestNoEvaluation:
    def test_registry_package_never_evaluates_content(self) -> None:
        """``registry/`` calls no eval/exec/pickle/yaml/literal_eval/system on anything."""
        offenders = []
        for source in sorted((REPO / "registry").rglob("*.py")):
            tokens = list(tokenize.generate_tokens(io.StringIO(source.read_text()).readline))
            for i, tok in enumerate(tokens[:-1]):
                if tok.type != tokenize.NAME or tokens[i + 1].string != "(":
                    continue
                owner = tokens[i - 2].string if i >= 2 and tokens[i - 1].string == "." else ""
                evaluates = tok.string in EVALUATORS and (tok.string, owner) not in ALLOWED
                deserializes = tok.string in ("load", "loads") and owner in DESERIALIZERS
                if evaluates or deserializes:
                    offenders.append(f"{source.relative_to(REPO)}:{tok.start[0]}: "
                                     f"{owner + '.' if owner else ''}{tok.string}(")
        banned = re.compile(r"^\s*(import|from)\s+(pickle|yaml|marshal|shelve|dill|subprocess)\b",
                            re.MULTILINE)
        imports = [f"{p.relative_to(REPO)}" for p in (REPO / "registry").rglob("*.py")
                   if banned.search(p.read_text())]
        assert offenders == []
        assert imports == []

    def test_code_in_a_literal_is_only_an_unreadable_literal(self, tmp_path: Path) -> None:
        """A literal holding Python code is never run: a GNN-W108 warning, nothing else."""
        root, out = tmp_path / "models", tmp_path / "out"
        out.mkdir()
        marker = tmp_path / "PWNED"
        payload = f"__import__('os').system('touch {marker}')"
        write(root / "evil.md", gnn_text("Evil").replace("A={", f"B={{{payload}}}\nA={{"))
        result = scan(out, root, args=("--json",))
        assert result.returncode == 0
        assert not marker.exists()
        doc = RegistryStore(Config(output_dir=out)).load()
        codes = [f["code"] if isinstance(f, dict) else f.code
                 for f in doc.models["evil"].versions[-1].findings]
        assert "GNN-W108" in codes

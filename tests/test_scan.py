"""The scan use case on small GNN files of our own: registration, versions, ids, lifecycle."""

from __future__ import annotations

import os
import time
from pathlib import Path

from structlog.testing import capture_logs

import registry.scanning.register as register_module
from registry.config import Config, load_config
from registry.model.records import RegistryDoc
from registry.scanning.scan import Scanner
from registry.storage.store import RegistryStore

PARAM_A = "A={(0.9,0.05,0.05),(0.05,0.9,0.05),(0.05,0.05,0.9)}"


def gnn_text(name: str = "Test Model", *, variables: tuple[str, ...] = (
        "A[3,3,type=float]", "s[3,1,type=float]", "o[3,1,type=float]"),
        edges: tuple[str, ...] = ("s>A", "A>o"), params: tuple[str, ...] = (PARAM_A,),
        front: str | None = None, annotation: str = "A small test model.") -> str:
    """A valid GNN file (every required and expected section)."""
    head = f"---\n{front}\n---\n" if front else ""
    return (f"{head}# GNN Example: {name}\n# GNN Version: 1.0\n\n"
            f"## GNNSection\nTestModel\n\n## GNNVersionAndFlags\nGNN v1\n\n"
            f"## ModelName\n{name}\n\n## ModelAnnotation\n{annotation}\n\n"
            "## StateSpaceBlock\n" + "\n".join(variables) + "\n\n"
            "## Connections\n" + "\n".join(edges) + "\n\n"
            "## InitialParameterization\n" + "\n".join(params) + "\n\n"
            f"## Time\nStatic\n\n## Footer\n{name}\n")


OLD = time.time() - 3600


def write(path: Path, text: str | bytes, *, age: float | None = None) -> Path:
    """Write a file and date it in the past (older than the racy-stat window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    stamp = OLD if age is None else time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def edit(path: Path, text: str) -> None:
    """Rewrite a file with new content and a new (old enough) mtime."""
    write(path, text, age=1800)


def config_for(tmp_path: Path, **options) -> Config:
    return load_config(environ={}, overrides={"output_dir": tmp_path / "out", "actor": "tester",
                                              **options})


def scan(tmp_path: Path, *roots: Path, **options):
    config = config_for(tmp_path, **options)
    return Scanner(config).reconcile(list(roots) or [tmp_path / "models"])


def load(tmp_path: Path) -> RegistryDoc:
    return RegistryStore(config_for(tmp_path)).load()


def events(doc: RegistryDoc, model_id: str) -> list[str]:
    return [h.event for h in doc.models[model_id].history]


class TestRegister:
    def test_first_scan_registers_valid_files(self, tmp_path):
        """A valid file becomes a model with the seed's fields and version 1.0.0."""
        path = write(tmp_path / "models" / "agent.md", gnn_text("Agent Model"))
        report = scan(tmp_path)
        assert report.exit_code == 0
        assert [(o.status, o.model_ids, o.version, o.change) for o in report.outcomes] == [
            ("registered", ["agent"], "1.0.0", "initial")]
        entry = load(tmp_path).models["agent"]
        assert entry.model_name == "Agent Model"
        assert entry.file_path == str(path)
        assert entry.file_size_bytes == path.stat().st_size
        assert entry.metadata["variables"] == 3
        assert entry.metadata["connections"] == 2
        assert "structure" not in entry.metadata
        assert "structure" in entry.versions[0].metadata
        assert entry.description == "A small test model."
        assert events(load(tmp_path), "agent") == ["registered"]
        assert (tmp_path / "out" / "agent" / "agent_metadata.json").is_file()
        assert (tmp_path / "out" / "model_registry_summary.json").is_file()

    def test_unchanged_rescan_reads_nothing_and_writes_nothing(self, tmp_path, monkeypatch):
        """A second scan of old, unchanged files opens no file and leaves the registry alone."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        scan(tmp_path)
        registry = tmp_path / "out" / "model_registry.json"
        before = registry.read_bytes()
        opened: list[str] = []
        real_open = os.open

        def spy(path, *args, **kwargs):
            opened.append(str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", spy)
        report = scan(tmp_path)
        monkeypatch.undo()
        assert [o.status for o in report.outcomes] == ["unchanged"]
        assert not report.wrote
        assert not [p for p in opened if p.endswith(".md")]
        assert registry.read_bytes() == before

    def test_readme_is_skipped_not_invalid(self, tmp_path):
        """Markdown without GNN sections is skipped and does not fail the scan."""
        write(tmp_path / "models" / "README.md", "# Models\n\nSome notes.\n## Usage\n")
        report = scan(tmp_path)
        assert [o.status for o in report.outcomes] == ["skipped"]
        assert report.exit_code == 0
        assert load(tmp_path).models == {}

    def test_invalid_file_blocks_and_exit_code_is_one(self, tmp_path):
        """A file with errors is reported with its findings and not registered."""
        bad = gnn_text("Bad", params=("A={(0.9,0.1)}",))
        write(tmp_path / "models" / "bad.md", bad)
        write(tmp_path / "models" / "good.md", gnn_text("Good"))
        report = scan(tmp_path)
        assert report.exit_code == 1
        outcome = next(o for o in report.outcomes if o.path.endswith("bad.md"))
        assert outcome.status == "invalid"
        assert any(f["code"] == "GNN-E002" and f["line"] for f in outcome.findings)
        assert sorted(load(tmp_path).models) == ["good"]
        again = scan(tmp_path)
        assert again.exit_code == 1

    def test_invalid_edit_keeps_the_current_version(self, tmp_path):
        """An edit that breaks the file keeps the last good version current, findings kept."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        edit(path, gnn_text(params=("A={(1.0)}",)))
        report = scan(tmp_path)
        assert report.outcomes[0].status == "invalid"
        entry = load(tmp_path).models["m"]
        assert entry.version == "1.0.0"
        assert any(f["code"] == "GNN-E002" for f in entry.findings)
        edit(path, gnn_text())
        assert scan(tmp_path).outcomes[0].status == "unchanged"
        assert load(tmp_path).models["m"].findings == []

    def test_warnings_are_recorded_and_strict_blocks(self, tmp_path):
        """Warnings go on the version; with strict they block the file."""
        text = gnn_text(variables=("A[3,3,type=float]", "s[3,1,type=float]",
                                   "o[3,1,type=float]", "unused[2,type=float]"))
        write(tmp_path / "models" / "w.md", text)
        strict = scan(tmp_path, tmp_path / "models", strict=True)
        assert strict.outcomes[0].status == "invalid"
        report = scan(tmp_path)
        assert report.outcomes[0].status == "registered"
        codes = [f["code"] for f in load(tmp_path).models["w"].versions[0].findings]
        assert "GNN-W001" in codes

    def test_binary_md_is_invalid(self, tmp_path):
        """A file named like a model that is not text is reported invalid (GNN-E100)."""
        write(tmp_path / "models" / "blob.md", b"\x00\xff\xfe binary")
        report = scan(tmp_path)
        assert report.outcomes[0].status == "invalid"
        assert report.outcomes[0].findings[0]["code"] == "GNN-E100"

    def test_too_large_is_skipped_with_a_reason(self, tmp_path):
        """A file over max_file_size is skipped, saying its size and the limit."""
        write(tmp_path / "models" / "big.md", gnn_text() + "#" * 3_000_000)
        report = scan(tmp_path, tmp_path / "models", max_file_size=2 * 1024 * 1024)
        assert report.outcomes[0].status == "skipped"
        assert report.outcomes[0].message == "file is 3 MB, over max_file_size 2 MB"

    def test_extract_metadata_off_keeps_seed_fields(self, tmp_path):
        """Without extraction only the seed fields are stored (counts included)."""
        write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path, tmp_path / "models", extract_metadata=False)
        meta = load(tmp_path).models["m"].metadata
        assert (meta["variables"], meta["connections"]) == (3, 2)
        assert "structure" not in load(tmp_path).models["m"].versions[0].metadata

    def test_multi_model_file(self, tmp_path):
        """Each model of a multi-model file gets <id>--k and versions on its own."""
        one, two = gnn_text("One"), gnn_text("Two")
        path = write(tmp_path / "models" / "pair.md", f"---\nauthor: me\n---\n{one}\n---\n{two}")
        report = scan(tmp_path)
        assert report.outcomes[0].model_ids == ["pair", "pair--2"]
        doc = load(tmp_path)
        assert (doc.models["pair"].model_name, doc.models["pair--2"].model_name) == ("One", "Two")
        two_edited = gnn_text("Two", params=("A={(0.8,0.1,0.1),(0.1,0.8,0.1),(0.1,0.1,0.8)}",))
        edit(path, f"---\nauthor: me\n---\n{one}\n---\n{two_edited}")
        scan(tmp_path)
        doc = load(tmp_path)
        assert (doc.models["pair"].version, doc.models["pair--2"].version) == ("1.0.0", "1.0.1")


class TestVersions:
    def test_bumps_follow_the_structure(self, tmp_path):
        """A parameter edit bumps patch, an added variable minor, a removed variable major."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        edit(path, gnn_text(params=("A={(0.8,0.1,0.1),(0.1,0.8,0.1),(0.1,0.1,0.8)}",)))
        assert scan(tmp_path).outcomes[0].version == "1.0.1"
        edit(path, gnn_text(params=("A={(0.8,0.1,0.1),(0.1,0.8,0.1),(0.1,0.1,0.8)}",),
                            variables=("A[3,3,type=float]", "s[3,1,type=float]",
                                       "o[3,1,type=float]", "u[2,type=int]"),
                            edges=("s>A", "A>o", "u>s")))
        out = scan(tmp_path).outcomes[0]
        assert (out.status, out.version, out.change) == ("updated", "1.1.0", "minor")
        edit(path, gnn_text(variables=("A[3,3,type=float]", "s[3,1,type=float]"),
                            edges=("s>A",)))
        assert scan(tmp_path).outcomes[0].version == "2.0.0"
        entry = load(tmp_path).models["m"]
        assert [v.version for v in entry.versions] == ["1.0.0", "1.0.1", "1.1.0", "2.0.0"]
        assert events(load(tmp_path), "m") == ["registered"] + ["version_added"] * 3
        added = [h.details for h in entry.history if h.event == "version_added"]
        assert added[-1] == {"version": "2.0.0", "change": "major", "previous": "1.1.0"}

    def test_touch_and_identical_rewrite_change_nothing(self, tmp_path):
        """Touching a file, or rewriting the same bytes, mints no version."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        os.utime(path, (OLD + 100, OLD + 100))
        assert scan(tmp_path).outcomes[0].status == "unchanged"
        edit(path, gnn_text())
        assert scan(tmp_path).outcomes[0].status == "unchanged"
        assert [v.version for v in load(tmp_path).models["m"].versions] == ["1.0.0"]

    def test_revert_makes_the_earlier_version_current(self, tmp_path):
        """A -> B -> A: two versions, 1.0.0 current again, a reverted event, no new number."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path)
        write(path, gnn_text(annotation="Changed."), age=1700)
        assert scan(tmp_path).outcomes[0].version == "1.0.1"
        write(path, gnn_text(), age=1600)
        outcome = scan(tmp_path).outcomes[0]
        assert (outcome.status, outcome.version, outcome.change) == ("updated", "1.0.0",
                                                                    "reverted")
        entry = load(tmp_path).models["m"]
        assert [v.version for v in entry.versions] == ["1.0.0", "1.0.1"]
        assert entry.version == "1.0.0"
        assert entry.sha256 == entry.versions[0].sha256
        assert entry.description == "A small test model."
        reverted = [h.details for h in entry.history if h.event == "reverted"]
        assert reverted == [{"version": "1.0.0", "previous": "1.0.1",
                             "sha256": entry.versions[0].sha256}]

    def test_toggling_between_two_contents_leaves_two_versions(self, tmp_path):
        """A file switched 100 times between two contents holds exactly two versions."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        config = config_for(tmp_path)
        scanner = Scanner(config)
        scanner.reconcile([tmp_path / "models"])
        texts = (gnn_text(annotation="Other text."), gnn_text())
        for i in range(100):
            write(path, texts[i % 2], age=1700 - i)
            scanner.process_paths([path])
        entry = load(tmp_path).models["m"]
        assert [v.version for v in entry.versions] == ["1.0.0", "1.0.1"]
        assert len({v.sha256 for v in entry.versions}) == 2
        assert entry.version == "1.0.0"  # the last write was the first content
        assert sum(h.event == "reverted" for h in entry.history) == 99

    def test_racy_mtime_is_rehashed(self, tmp_path):
        """A same-size rewrite within the racy window is still noticed on the next scan."""
        path = write(tmp_path / "models" / "m.md", gnn_text(), age=0)
        scan(tmp_path)
        stat = path.stat()
        changed = gnn_text().replace("0.9,0.05,0.05", "0.8,0.15,0.05")
        assert len(changed) == len(gnn_text())
        path.write_text(changed)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        out = scan(tmp_path).outcomes[0]
        assert (out.status, out.version) == ("updated", "1.0.1")

    def test_declared_version_is_honoured(self, tmp_path):
        """Front matter version: 2.3.0 is the first version, and a higher one later too."""
        path = write(tmp_path / "models" / "m.md", gnn_text(front="version: 2.3.0"))
        assert scan(tmp_path).outcomes[0].version == "2.3.0"
        edit(path, gnn_text(front="version: 3.0.0", annotation="New text."))
        out = scan(tmp_path).outcomes[0]
        assert (out.version, out.change) == ("3.0.0", "declared")

    def test_declared_conflict_bumps_and_records(self, tmp_path):
        """A declared version that exists with other content is bumped, with a conflict event."""
        path = write(tmp_path / "models" / "m.md", gnn_text(front="version: 2.3.0"))
        scan(tmp_path)
        edit(path, gnn_text(front="version: 2.3.0", annotation="Edited."))
        with capture_logs() as logs:
            out = scan(tmp_path).outcomes[0]
        assert out.version == "2.3.1"
        assert "version_conflict" in events(load(tmp_path), "m")
        assert any(e["event"] == "version_conflict" and e["log_level"] == "warning"
                   for e in logs)

    def test_auto_version_off_patches(self, tmp_path):
        """Without auto_version every change is a patch bump."""
        path = write(tmp_path / "models" / "m.md", gnn_text())
        scan(tmp_path, tmp_path / "models", auto_version=False)
        edit(path, gnn_text(variables=("A[3,3,type=float]", "s[3,1,type=float]"),
                            edges=("s>A",)))
        assert scan(tmp_path, tmp_path / "models", auto_version=False).outcomes[0].version == (
            "1.0.1")

    def test_tags_merge_front_matter_and_user_tags(self, tmp_path):
        """Front matter tags follow the file; tags added by a user stay."""
        path = write(tmp_path / "models" / "m.md", gnn_text(front="tags: [alpha, beta]"))
        scan(tmp_path)
        store = RegistryStore(config_for(tmp_path))
        with store.transaction() as doc:
            doc.models["m"].tags.append("mine")
        edit(path, gnn_text(front="tags: [beta, gamma]"))
        scan(tmp_path)
        assert load(tmp_path).models["m"].tags == ["mine", "beta", "gamma"]


class TestLogging:
    def test_one_event_per_file(self, tmp_path):
        """Each file processed logs exactly one file_processed event with its fields."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        write(tmp_path / "models" / "b.md", gnn_text("B", params=("A={(1.0)}",)))
        write(tmp_path / "models" / "README.md", "# hi\n")
        with capture_logs() as logs:
            scan(tmp_path)
        per_file = [e for e in logs if e["event"] in ("file_processed", "file_error")]
        assert sorted(Path(e["path"]).name for e in per_file) == ["README.md", "a.md", "b.md"]
        first = next(e for e in per_file if e["path"].endswith("a.md"))
        assert (first["model_id"], first["version"], first["change"], first["status"]) == (
            "a", "1.0.0", "initial", "registered")
        assert isinstance(first["duration_ms"], float)
        bad = next(e for e in per_file if e["path"].endswith("b.md"))
        assert "GNN-E002" in bad["findings"]

    def test_unreadable_file_is_an_error_outcome(self, tmp_path, monkeypatch):
        """A file that cannot be read is an error outcome and a file_error event."""
        path = write(tmp_path / "models" / "secret.md", gnn_text())
        real_open = os.open

        def deny(name, *args, **kwargs):
            if str(name) == str(path):
                raise PermissionError(13, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
        with capture_logs() as logs:
            report = scan(tmp_path)
        monkeypatch.undo()
        assert report.outcomes[0].status == "error"
        assert "permission denied" in report.outcomes[0].message
        assert report.exit_code == 1
        assert [e["event"] for e in logs if e["event"].startswith("file_")] == ["file_error"]


class TestContainedDefects:
    def test_an_exception_while_analysing_one_file_is_an_error_outcome(self, tmp_path,
                                                                       monkeypatch):
        """A defect that raises while analysing one file gives that file an `error` outcome
        with a clear message, is logged with its traceback, and the other files register."""
        real = register_module.analyse

        def faulty(data: bytes, **kwargs):
            if b"Poison" in data:
                raise RuntimeError("simulated parser defect")
            return real(data, **kwargs)

        monkeypatch.setattr(register_module, "analyse", faulty)
        write(tmp_path / "models" / "good.md", gnn_text("Good"))
        write(tmp_path / "models" / "poison.md", gnn_text("Poison"))
        with capture_logs() as logs:
            report = Scanner(config_for(tmp_path)).reconcile([tmp_path / "models"])
        by_name = {Path(o.path).name: o for o in report.outcomes}
        assert by_name["good.md"].status == "registered"
        assert by_name["poison.md"].status == "error"
        assert "simulated parser defect" in by_name["poison.md"].message
        assert report.exit_code == 1
        assert any(e["event"] == "analysis_failed" and e.get("exc_info") for e in logs)
        assert set(load(tmp_path).models) == {"good"}

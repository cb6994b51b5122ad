"""Tests for registry.scanning.analysis: one file's analysis, the process pool, read-ahead in
scans."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

from registry.config import load_config
from registry.gnn import check_bytes, extract
from registry.gnn.parser import split_lines
from registry.scanning import analysis as analysis_mod
from registry.scanning.analysis import (
    CHUNK_FILES,
    SMALL_BATCH,
    ReadAhead,
    analyse_many,
    default_workers,
)
from registry.scanning.fileanalysis import analyse, seed_metadata
from registry.scanning.scan import Scanner
from registry.storage.store import RegistryStore


def model_text(index: int, *, warn: bool = False, broken: bool = False) -> str:
    """A small GNN model; ``warn`` adds an unused variable, ``broken`` a shape error."""
    rows = 3 if not broken else 2
    a_value = ",".join(f"({0.1 * (index % 7):.1f},0.5,0.5)" for _ in range(rows))
    extra = "\nx[2,type=float]" if warn else ""
    return (f"# GNN Example: model {index}\n\n## GNNSection\nGenerated\n\n"
            f"## GNNVersionAndFlags\nGNN v1\n\n## ModelName\nModel {index}\n\n"
            f"## ModelAnnotation\nModel number {index}.\n\n"
            f"## StateSpaceBlock\nA[3,3,type=float]\ns[3,1,type=float]\no[3,1,type=int]{extra}\n\n"
            "## Connections\ns>A\nA>o\n\n"
            f"## InitialParameterization\nA={{{a_value}}}\n\n"
            "## Time\nStatic\n\n## Footer\nend\n")


MULTI = ("---\nauthor: Ada\ntags: [x, y]\n---\n" + model_text(1) + "\n---\n\n" + model_text(2)
         ).encode()


def corpus(count: int) -> list[bytes]:
    """``count`` files: mostly valid, some with warnings, some invalid, one not GNN."""
    out = []
    for i in range(count):
        if i % 17 == 5:
            out.append(b"# Notes\n\nJust a README.\n")
        else:
            out.append(model_text(i, warn=i % 5 == 1, broken=i % 11 == 3).encode())
    return out


class TestAnalyse:
    def test_single_model_matches_check_and_extract(self):
        """A single-model file gets the file's SHA-256, its findings and extract()'s metadata."""
        data = model_text(4, warn=True).encode()
        result = analyse(data)
        check = check_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        assert result.sha256 == digest
        assert result.findings == check.findings
        assert result.ok is check.ok
        assert len(result.models) == 1
        model = result.models[0]
        assert model.sha256 == digest
        assert model.metadata == extract(check.gnn, check.gnn.models[0], sha256=digest)
        assert model.findings == [f.to_dict() for f in check.findings]
        assert model.name == "Model 4"

    def test_multi_model_block_hashes_and_findings(self):
        """Each model of a multi-model file is hashed as front matter text plus its own lines."""
        result = analyse(MULTI)
        lines = split_lines(MULTI.decode())
        head = lines[:result.models[0].first_line - 1]
        assert len(result.models) == 2
        for model in result.models:
            block = "\n".join(head + lines[model.first_line - 1:model.last_line])
            assert model.sha256 == hashlib.sha256(block.encode()).hexdigest()
            assert model.metadata["sha256"] == model.sha256
            assert all(f["line"] is None or model.first_line <= f["line"] <= model.last_line
                       for f in model.findings)
        assert result.models[0].sha256 != result.models[1].sha256

    def test_seed_metadata_when_extraction_is_off(self):
        """With metadata off each model carries the short seed form."""
        result = analyse(MULTI, metadata=False)
        gnn = check_bytes(MULTI).gnn
        for model, parsed in zip(result.models, gnn.models, strict=True):
            assert model.metadata == seed_metadata(gnn, parsed, sha256=model.sha256)
            assert model.metadata["tags"] == ["x", "y"]
            assert "structure" not in model.metadata

    def test_strict_decides_ok_only(self):
        """Warnings block under strict; the findings are the same either way."""
        data = model_text(1, warn=True).encode()
        lenient, strict = analyse(data), analyse(data, strict=True)
        assert lenient.ok
        assert not strict.ok
        assert lenient.findings == strict.findings

    def test_not_utf8_is_a_finding(self):
        """Bytes that are not UTF-8 give GNN-E100 and no models, without raising."""
        result = analyse(b"## ModelName\n\xff\xfe\n")
        assert not result.ok
        assert [f.code for f in result.findings] == ["GNN-E100"]
        assert result.models == ()

    def test_skip_non_gnn_stops_early(self):
        """A README-style text is not analysed when skip_non_gnn is set."""
        readme = b"# Title\n\n## Install\n\npip install\n"
        assert analyse(readme, skip_non_gnn=True).complete is False
        assert analyse(readme).complete is True
        assert analyse(model_text(1).encode(), skip_non_gnn=True).complete is True

    def test_result_survives_pickle(self):
        """An analysis crosses a process boundary unchanged."""
        result = analyse(MULTI)
        assert pickle.loads(pickle.dumps(result)) == result

    def test_every_field_survives_pickle(self):
        """Results and findings pickle as constructor calls that keep every field's value."""
        pinned = b"---\nid: my-model\n---\n" + model_text(3, warn=True, broken=True).encode()
        results = [analyse(pinned, strict=True), analyse(b"# Notes\n", skip_non_gnn=True),
                   analyse(b"", metadata=False)]
        assert results[0].models[0].pinned_id == "my-model"
        assert results[0].findings
        assert results[0].models[0].findings
        assert results[1].complete is False
        assert any(f.line is None for f in results[2].findings)
        for result in results:
            copy = pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            assert copy == result
            assert repr(copy) == repr(result)


class TestAnalyseMany:
    def test_pool_results_equal_in_process_results_in_order(self):
        """Two workers give exactly the in-process results, in input order."""
        files = corpus(SMALL_BATCH + 40)
        pooled = list(analyse_many(files, workers=2))
        assert pooled == [analyse(data) for data in files]

    def test_unreadable_items_stay_none(self):
        """A ``None`` item (a file that could not be read) yields ``None`` in its place."""
        files: list[bytes | None] = list(corpus(SMALL_BATCH + 5))
        files[3] = None
        files[66] = None
        results = list(analyse_many(files, workers=2))
        assert results[3] is None
        assert results[66] is None
        assert results[4] == analyse(files[4] or b"")

    def test_small_batch_stays_in_process(self, monkeypatch):
        """Fewer than SMALL_BATCH files never start a pool."""
        def no_pool(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("a pool was started for a small batch")

        monkeypatch.setattr(analysis_mod, "ProcessPoolExecutor", no_pool)
        files = corpus(SMALL_BATCH - 1)
        assert list(analyse_many(files, workers=2)) == [analyse(d) for d in files]

    def test_input_is_read_lazily(self):
        """Only a bounded number of files are drawn ahead of the consumer."""
        drawn = 0
        files = corpus(8)

        def stream() -> Iterator[bytes]:
            nonlocal drawn
            for i in range(2000):
                drawn += 1
                yield files[i % len(files)]

        results = analyse_many(stream(), workers=2)
        next(results)
        try:
            assert drawn <= SMALL_BATCH + (2 * 2 + 1) * CHUNK_FILES
        finally:
            results.close()  # type: ignore[attr-defined]

    def test_worker_failure_is_recomputed_here(self, monkeypatch):
        """A chunk that fails in a worker is analysed in this process instead."""
        parent = os.getpid()
        original = analysis_mod.analyse

        def fails_in_workers(data: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
            if os.getpid() != parent:
                raise RuntimeError("injected worker fault")
            return original(data, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(analysis_mod, "analyse", fails_in_workers)
        # Forked workers inherit the patch whatever other threads the test run has.
        monkeypatch.setattr(analysis_mod, "_context", lambda: multiprocessing.get_context("fork"))
        files = corpus(SMALL_BATCH + 10)
        assert list(analyse_many(files, workers=2)) == [original(d) for d in files]

    def test_pool_beside_other_threads(self):
        """With other threads running the workers come from a fork server, same results."""
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait, daemon=True)
        thread.start()
        try:
            files = corpus(SMALL_BATCH + 3)
            assert list(analyse_many(files, workers=2)) == [analyse(d) for d in files]
        finally:
            stop.set()
            thread.join()

    def test_default_workers(self):
        """0 means one worker per usable CPU; a positive setting is taken as is."""
        assert default_workers(0) == len(os.sched_getaffinity(0))
        assert default_workers(3) == 3


class TestReadAhead:
    def _read_ahead(self, tmp_path: Path, count: int) -> tuple[list[str], ReadAhead]:
        paths = []
        for i, data in enumerate(corpus(count)):
            path = tmp_path / f"m{i:03d}.md"
            path.write_bytes(data)
            paths.append(str(path))
        return paths, ReadAhead(paths, 1 << 20, workers=2)

    def test_take_matching_bytes(self, tmp_path):
        """A path reached with the bytes that were read ahead gets their analysis."""
        paths, ahead = self._read_ahead(tmp_path, SMALL_BATCH + 8)
        try:
            data = Path(paths[0]).read_bytes()
            got = ahead.take(paths[0], hashlib.sha256(data).hexdigest())
            assert got == analyse(data, skip_non_gnn=True)
            # Skipping ahead drops the results in between, and still matches.
            data = Path(paths[40]).read_bytes()
            got = ahead.take(paths[40], hashlib.sha256(data).hexdigest())
            assert got == analyse(data, skip_non_gnn=True)
            assert ahead.take(paths[20], "0" * 64) is None  # already passed
        finally:
            ahead.close()

    def test_changed_or_unknown_files_are_not_served(self, tmp_path):
        """Other bytes, or a path not read ahead, give ``None`` without consuming the stream."""
        paths, ahead = self._read_ahead(tmp_path, SMALL_BATCH + 8)
        try:
            assert ahead.take(str(tmp_path / "other.md"), "0" * 64) is None
            assert ahead.take(paths[0], "0" * 64) is None
            data = Path(paths[1]).read_bytes()
            assert ahead.take(paths[1], hashlib.sha256(data).hexdigest()) is not None
        finally:
            ahead.close()

    def test_unreadable_file_is_not_served(self, tmp_path):
        """A file that is gone when the workers read it gives ``None`` (and the rest works)."""
        paths, ahead = self._read_ahead(tmp_path, SMALL_BATCH + 8)
        data = Path(paths[2]).read_bytes()
        Path(paths[2]).unlink()
        try:
            assert ahead.take(paths[2], hashlib.sha256(data).hexdigest()) is None
            data = Path(paths[3]).read_bytes()
            assert ahead.take(paths[3], hashlib.sha256(data).hexdigest()) is not None
        finally:
            ahead.close()


class TestScanReadAhead:
    def _scan(self, tmp_path: Path, out: str, workers: int) -> dict[str, dict[str, object]]:
        config = load_config(environ={}, overrides={
            "output_dir": tmp_path / out, "actor": "tester", "analysis_workers": workers,
            "write_model_metadata": False})
        report = Scanner(config).reconcile([tmp_path / "models"])
        statuses = {Path(o.path).name: o.status for o in report.outcomes}
        doc = RegistryStore(config).load()
        models: dict[str, dict[str, object]] = {}
        for model_id in doc.models:
            entry = doc.models[model_id]
            models[model_id] = {
                "path": Path(entry.file_path).name, "version": entry.version,
                "sha256": entry.sha256, "name": entry.model_name, "findings": entry.findings,
                "metadata": entry.metadata, "version_metadata": entry.versions[-1].metadata,
                "status": statuses[Path(entry.file_path).name],
            }
        return models

    def test_parallel_scan_equals_serial_scan(self, tmp_path, monkeypatch):
        """A big first scan analysed by two workers registers exactly what one process does."""
        models_dir = tmp_path / "models"
        models_dir.mkdir()
        for i, data in enumerate(corpus(SMALL_BATCH + 30)):
            (models_dir / f"m{i:03d}.md").write_bytes(data)
        (models_dir / "multi.md").write_bytes(MULTI)
        log = tmp_path / "pids.log"
        original = analysis_mod.analyse

        def logged(data: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
            with log.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            return original(data, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(analysis_mod, "analyse", logged)
        monkeypatch.setattr(analysis_mod, "_context", lambda: multiprocessing.get_context("fork"))
        parallel = self._scan(tmp_path, "out2", 2)
        pids = set(log.read_text().split())
        assert pids  # the work ran in worker processes, not here
        assert str(os.getpid()) not in pids
        serial = self._scan(tmp_path, "out1", 1)
        # README-like files are skipped, invalid ones not registered; multi.md gives two.
        expected = sum(1 for i in range(SMALL_BATCH + 30) if i % 17 != 5 and i % 11 != 3)
        assert len(serial) == expected + 2
        assert parallel == serial

    def test_parallel_scan_reports_every_outcome_as_serial_scan(self, tmp_path, monkeypatch):
        """With read-ahead, README-like, prose-with-examples, invalid and valid files get the
        same outcomes and messages as in one process (the prose check is not skipped)."""
        models_dir = tmp_path / "models"
        models_dir.mkdir()
        for i, data in enumerate(corpus(SMALL_BATCH + 10)):
            (models_dir / f"m{i:03d}.md").write_bytes(data)
        example = model_text(7).replace("## ", "```\n## ", 1) + "```\n"
        (models_dir / "tutorial.md").write_text(
            "# Tutorial\n\n```gnn\n## ModelName\nX\n\n## StateSpaceBlock\nA[2]\n```\n")
        (models_dir / "fenced.md").write_text(example)
        monkeypatch.setattr(analysis_mod, "_context", lambda: multiprocessing.get_context("fork"))

        def outcomes(out: str, workers: int) -> list[tuple[str, str, str]]:
            config = load_config(environ={}, overrides={
                "output_dir": tmp_path / out, "actor": "tester", "analysis_workers": workers,
                "write_model_metadata": False})
            report = Scanner(config).reconcile([models_dir])
            return sorted((Path(o.path).name, o.status, o.message) for o in report.outcomes)

        parallel, serial = outcomes("out2", 2), outcomes("out1", 1)
        statuses = {status for _name, status, _message in serial}
        assert {"skipped", "invalid", "registered"} <= statuses
        assert ("tutorial.md", "skipped") in {(n, s) for n, s, _m in serial}
        assert parallel == serial

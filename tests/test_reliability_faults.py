"""I/O faults at the scan, CLI and service level: clear errors, exit 2, the registry kept."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.registryd import main as registryd_main
from registry.config import Config
from registry.storage.db import read_generation
from registry.storage.store import RegistryStore
from tests.helpers.daemon import gnn_text, running_daemon, write
from tests.helpers.faults import DB_COMMIT, MATCHERS, Injector, Match

REPO = Path(__file__).resolve().parents[1]
HOLDER = Path(__file__).resolve().parent / "helpers" / "writer.py"
FAULTINJECT = Path(__file__).resolve().parent / "helpers" / "faultinject"

# (step, errno, text the error must contain, registry unchanged afterwards)
SCAN_CASES: dict[str, tuple[str, int, str, bool]] = {
    "db_commit_enospc": (DB_COMMIT, errno.ENOSPC, "no space left on device", True),
    "db_commit_eio": (DB_COMMIT, errno.EIO, "input/output error", True),
    # After the commit: the new registry is complete and visible, the error is still fatal
    # (and the next write repairs the derived file or makes the missed backup).
    "view_write_enospc": ("view_write", errno.ENOSPC, "no space left on device", False),
    "view_write_eio": ("view_write", errno.EIO, "input/output error", False),
    "view_replace_eio": ("view_replace", errno.EIO, "input/output error", False),
    "backup_fsync_eio": ("backup_fsync", errno.EIO, "input/output error", False),
    "backup_link_enospc": ("backup_link", errno.ENOSPC, "no space left on device", False),
    "metadata_write_enospc": ("metadata_write", errno.ENOSPC, "no space left on device", False),
    "metadata_write_eio": ("metadata_write", errno.EIO, "input/output error", False),
    "summary_write_enospc": ("summary_write", errno.ENOSPC, "no space left on device", False),
}


def generation(out: Path) -> int:
    """The registry database's generation (read from a copy: the folder may be read-only)."""
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("model_registry.sqlite3", "model_registry.sqlite3-wal"):
            if (out / name).exists():
                shutil.copyfile(out / name, Path(scratch) / name)
        found = read_generation(Path(scratch) / "model_registry.sqlite3")
    assert found is not None
    return found[0]


@pytest.fixture(name="inject")
def _inject(monkeypatch: pytest.MonkeyPatch) -> Injector:
    return Injector(monkeypatch)


@pytest.fixture(name="tree")
def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A models folder with one registered model, and the output folder."""
    models, out = tmp_path / "models", tmp_path / "out"
    write(models / "alpha.md", gnn_text("Alpha"))
    assert registryd_main(["--scan", "--output-dir", str(out), str(models)]) == 0
    return models, out


def change(models: Path) -> None:
    """Edit one model and add another, so the next scan must write."""
    write(models / "alpha.md", gnn_text("Alpha", horizon=42))
    write(models / "beta.md", gnn_text("Beta"))


def scan(models: Path, out: Path) -> int:
    """Run ``gnn-registryd --scan`` in-process."""
    return registryd_main(["--scan", "--output-dir", str(out), str(models)])


def leftovers(out: Path) -> list[Path]:
    """Temp files left anywhere under the output folder."""
    return sorted(p for p in out.rglob(".*.tmp"))


def matcher(step: str) -> tuple[str, Match]:
    """The os function (or the commit) and predicate failing ``step``."""
    return (DB_COMMIT, lambda *_: True) if step == DB_COMMIT else MATCHERS[step]


class TestScanFaults:
    @pytest.mark.parametrize("case", sorted(SCAN_CASES))
    def test_fault_is_fatal_clear_and_keeps_registry(
            self, tree: tuple[Path, Path], inject: Injector,
            capsys: pytest.CaptureFixture[str], case: str) -> None:
        """Each failing write step: exit 2, a message naming the cause, the registry kept."""
        models, out = tree
        step, code, cause, intact = SCAN_CASES[case]
        registry = out / "model_registry.json"
        before = generation(out)
        change(models)
        capsys.readouterr()
        func, match = matcher(step)
        inject.fail(func, code, match)
        status = scan(models, out)
        inject.undo()
        err = capsys.readouterr().err
        assert status == 2
        # One failing call: the store never retries.
        assert inject.hits == 1
        assert cause in err
        assert "Traceback" not in err
        assert leftovers(out) == []
        json.loads(registry.read_bytes())  # the view is whole (old or new), never torn
        assert (generation(out) == before) is intact
        # Once the fault clears, the next scan completes the work.
        assert scan(models, out) == 0
        doc = RegistryStore(Config(output_dir=out)).load()
        assert {"alpha", "beta"} <= set(doc.models)
        assert doc.models["alpha"].versions[-1].version != "1.0.0"
        assert RegistryStore(Config(output_dir=out)).verify() == []

    def test_erofs_at_open_is_fatal(self, tree: tuple[Path, Path], inject: Injector,
                                    capsys: pytest.CaptureFixture[str]) -> None:
        """A read-only filesystem reported at the view's temp file: exit 2, named cause."""
        models, out = tree
        before = (out / "model_registry.json").read_bytes()
        change(models)
        capsys.readouterr()
        inject.fail("open", errno.EROFS,
                    lambda path, *_: Path(os.fspath(path)).parent == out
                    and Path(os.fspath(path)).name.startswith(".model_registry.json"))
        assert scan(models, out) == 2
        inject.undo()
        assert inject.hits >= 1
        assert "read-only file system" in capsys.readouterr().err
        assert (out / "model_registry.json").read_bytes() == before
        assert scan(models, out) == 0  # the next write brings the view up to date
        assert RegistryStore(Config(output_dir=out)).verify() == []


@pytest.fixture(name="read_only")
def _read_only(tree: tuple[Path, Path]) -> Iterator[Path]:
    """The output folder as a read-only bind mount (skips where mounting is not allowed)."""
    out = tree[1]
    bound = subprocess.run(["mount", "--bind", str(out), str(out)], capture_output=True,
                           check=False)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount (needs root/CAP_SYS_ADMIN): {bound.stderr!r}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(out)], capture_output=True,
                            check=False)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only: {ro.stderr!r}")
        yield out
    finally:
        subprocess.run(["umount", str(out)], check=True)


class TestReadOnlyOutput:
    def test_read_only_output_dir_is_fatal(self, tree: tuple[Path, Path], read_only: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
        """A really read-only output folder: exit 2 naming the cause, registry untouched."""
        models, out = tree
        before = generation(out)
        change(models)
        capsys.readouterr()
        assert scan(models, out) == 2
        err = capsys.readouterr().err
        assert "read-only file system" in err or "readonly" in err
        assert "Traceback" not in err
        assert generation(out) == before


class TestStuckLock:
    def test_lock_held_by_stuck_process(self, tree: tuple[Path, Path],
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
        """A lock held by a stuck process: exit 2, the message names the holder's pid."""
        models, out = tree
        before = generation(out)
        change(models)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        holder = subprocess.Popen([sys.executable, str(HOLDER), str(out), "--hold"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == b"locked"
            monkeypatch.setenv("GNN_REGISTRY_LOCK_TIMEOUT", "0.3")
            capsys.readouterr()
            assert scan(models, out) == 2
            err = capsys.readouterr().err
        finally:
            holder.kill()
            holder.wait(30)
            for pipe in (holder.stdin, holder.stdout):
                if pipe is not None:
                    pipe.close()
        assert "busy" in err
        assert f"pid {holder.pid}" in err
        assert generation(out) == before


class TestServiceFaults:
    @pytest.mark.parametrize("fault", ["db_commit EIO", "db_commit ENOSPC"])
    def test_service_reports_write_failure_and_keeps_watching(
            self, tmp_path: Path, fault: str) -> None:
        """A failed registry write is logged; the service stays up and catches up later."""
        models, out, control = tmp_path / "models", tmp_path / "out", tmp_path / "fault"
        write(models / "alpha.md", gnn_text("Alpha"))
        env = {"PYTHONPATH": f"{FAULTINJECT}{os.pathsep}{REPO}",
               "GNNR_FAULT_CONTROL": str(control)}
        with running_daemon(["--settle-ms", "100", models], output_dir=out, env=env) as daemon:
            daemon.wait_registry(lambda d: "alpha" in d.models)
            before = generation(out)
            control.write_text(fault + "\n")
            mark = daemon.log_count()
            write(models / "beta.md", gnn_text("Beta"))
            failed = daemon.wait_log("registry_write_failed", after=mark)
            assert failed["fatal"] is False
            assert failed["level"] == "error"
            assert "retry_in" in failed
            assert generation(out) == before
            assert leftovers(out) == []
            control.unlink()
            daemon.wait_registry(lambda d: "beta" in d.models, what="beta after the fault")
            write(models / "gamma.md", gnn_text("Gamma"))
            daemon.wait_registry(lambda d: "gamma" in d.models, what="gamma after the fault")
            assert daemon.stop() == 0
        tracebacks = [e for e in daemon.events() if "exception" in e]
        assert tracebacks == []

    def test_startup_write_failure_is_still_fatal(self, tmp_path: Path) -> None:
        """A registry that cannot be written at start stops the service with exit 2."""
        models, out, control = tmp_path / "models", tmp_path / "out", tmp_path / "fault"
        write(models / "alpha.md", gnn_text("Alpha"))
        control.write_text("db_commit EIO\n")
        env = {"PYTHONPATH": f"{FAULTINJECT}{os.pathsep}{REPO}",
               "GNNR_FAULT_CONTROL": str(control)}
        with running_daemon(["--settle-ms", "100", models], output_dir=out, env=env,
                            ready=False) as daemon:
            status = daemon.wait_exit()
            events = daemon.find_logs("registry_write_failed")
        assert status == 2
        assert events
        assert events[0]["fatal"] is True
        assert not (out / "model_registry.json").exists()

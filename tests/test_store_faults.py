"""Storage under injected I/O errors: one failing call, for our file only, everything else real."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from registry.config import Config
from registry.errors import StoreError
from registry.storage.store import RegistryStore
from tests.helpers import make_entry
from tests.helpers.faults import DB_COMMIT, Injector, fd_path, is_backup_temp

VIEW_TEMP_PREFIX = ".model_registry.json."


def is_view_temp(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is one of the store's temp files for the JSON view."""
    name = Path(os.fspath(path)).name
    return name.startswith(VIEW_TEMP_PREFIX) and name.endswith(".tmp")


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> RegistryStore:
    store = RegistryStore(Config(output_dir=tmp_path, lock_timeout=5.0, backup_count=3))
    for mid in ("a", "b"):
        with store.transaction() as doc:
            doc.models[mid] = make_entry(mid)
    return store


@pytest.fixture(name="inject")
def _inject(monkeypatch: pytest.MonkeyPatch) -> Injector:
    return Injector(monkeypatch)


def add_c(store: RegistryStore) -> None:
    """One transaction adding model ``c``."""
    with store.transaction() as doc:
        doc.models["c"] = make_entry("c")


def leftovers(store: RegistryStore) -> list[Path]:
    """Temp files left in the registry or backup directory."""
    return [*store.path.parent.glob(".*.tmp"), *store.backup_dir.glob(".*.tmp")]


# name: (function, errno, text naming the step, text naming the cause, match, committed)
CASES = {
    "commit_enospc": (DB_COMMIT, errno.ENOSPC, "committing", "no space left on device",
                      lambda *_: True, False),
    "commit_eio": (DB_COMMIT, errno.EIO, "committing", "input/output error",
                   lambda *_: True, False),
    "view_write_enospc": ("write", errno.ENOSPC, "writing temp file", "no space left on device",
                          lambda fd, *_: is_view_temp(fd_path(fd)), True),
    "view_replace_eio": ("replace", errno.EIO, "replace", "input/output error",
                         lambda src, *_: is_view_temp(src), True),
    "backup_fsync_eio": ("fsync", errno.EIO, "writing a backup", "input/output error",
                         lambda fd: is_backup_temp(fd_path(fd)), True),
    "backup_link_enospc": ("link", errno.ENOSPC, "keeping the backup",
                           "no space left on device",
                           lambda src, *_: is_backup_temp(src), True),
    "backup_unlink_eio": ("unlink", errno.EIO, "backup rotation", "input/output error",
                          lambda path, *_: Path(path).parent.name == "backups"
                          and Path(path).name.startswith("model_registry."), True),
}


class TestFailedWrites:
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_failing_step_is_named_and_nothing_is_half_done(
            self, store: RegistryStore, inject: Injector, case: str) -> None:
        """A failing step raises StoreError naming step and cause. Before the commit nothing
        changed; after it the change is durable and the next write completes the rest."""
        func, code, step, cause, match, committed = CASES[case]
        if case == "backup_unlink_eio":
            for mid in ("x", "y"):  # fill the backups up to the cap so rotation deletes one
                with store.transaction() as doc:
                    doc.models[mid] = make_entry(mid)
        before = store.load().generation
        inject.fail(func, code, match)
        with pytest.raises(StoreError) as info:
            add_c(store)
        assert inject.hits == 1
        message = str(info.value)
        assert step in message
        assert cause in message
        assert str(store.path.parent) in message
        doc = store.load()
        assert (doc.generation == before + 1) is committed
        assert ("c" in doc.models) is committed
        assert store.health() is None
        assert leftovers(store) == []
        inject.undo()
        with store.transaction() as doc:
            doc.models["d"] = make_entry("d")
        add_c(store)
        assert {"c", "d"} <= set(store.load().models)
        assert store.verify() == []

    def test_failed_commit_is_not_retried(self, store: RegistryStore, inject: Injector) -> None:
        """After the commit fails once, the store gives up instead of retrying."""
        inject.fail(DB_COMMIT, errno.EIO, lambda *_: True)
        with pytest.raises(StoreError, match="input/output error"):
            add_c(store)
        assert inject.hits == 1

    def test_failed_view_write_is_reported_by_verify_and_repaired(
            self, store: RegistryStore, inject: Injector) -> None:
        """A view that could not be written is stale: verify says so, the next write fixes it."""
        inject.fail("write", errno.ENOSPC, lambda fd, *_: is_view_temp(fd_path(fd)))
        with pytest.raises(StoreError):
            add_c(store)
        inject.undo()
        assert any("view is stale" in p for p in store.verify())
        view = json.loads(store.view_path.read_text("utf-8"))
        assert "c" not in view["models"]
        with store.transaction() as doc:
            doc.models["d"] = make_entry("d")
        view = json.loads(store.view_path.read_text("utf-8"))
        assert {"a", "b", "c", "d"} <= set(view["models"])
        assert store.verify() == []

    def test_failed_metadata_write_after_registry_write(
            self, store: RegistryStore, inject: Injector) -> None:
        """A metadata file failure is a StoreError; the registry already holds the change."""
        inject.fail("write", errno.ENOSPC,
                    lambda fd, *_: Path(fd_path(fd)).name.startswith(".c_metadata.json."))
        with pytest.raises(StoreError, match="no space left on device"):
            add_c(store)
        assert "c" in store.load().models
        assert not store.metadata_path("c").exists()
        assert list(store.path.parent.glob("*/.*.tmp")) == []
        inject.undo()
        with store.transaction() as doc:
            doc.models["d"] = make_entry("d")
        assert store.metadata_path("c").is_file()
        assert store.verify() == []

    def test_failed_summary_write_keeps_previous(
            self, store: RegistryStore, inject: Injector) -> None:
        """A failing summary write leaves the previous summary in place."""
        path = store.write_summary({"n": 1})
        inject.fail("write", errno.ENOSPC,
                    lambda fd, *_: Path(fd_path(fd)).name.startswith(".model_registry_summary"))
        with pytest.raises(StoreError, match="no space left"):
            store.write_summary({"n": 2})
        assert path.read_text().strip().endswith("}")
        assert '"n": 1' in path.read_text()
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    def test_summary_is_not_fsynced(self, store: RegistryStore, inject: Injector) -> None:
        """The summary is a report, rebuilt by the next scan: it is replaced atomically but
        never fsynced, so a failing fsync does not touch it (nor slow every scan down)."""
        inject.fail("fsync", errno.EIO, lambda fd: True)
        path = store.write_summary({"n": 3})
        assert '"n": 3' in path.read_text()

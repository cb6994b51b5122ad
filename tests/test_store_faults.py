"""Storage under injected I/O errors: one failing call, for our file only, everything else real."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from registry.backups import decode
from registry.config import Config
from registry.errors import StoreError
from registry.store import RegistryStore
from tests.helpers import make_entry
from tests.helpers.faults import Injector, fd_path

TEMP_PREFIX = ".model_registry.json."


def is_registry_temp(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is one of the store's temp files for the registry."""
    name = Path(os.fspath(path)).name
    return name.startswith(TEMP_PREFIX) and name.endswith(".tmp")


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


CASES = {
    "write_enospc": ("write", errno.ENOSPC, "writing temp file", "no space left on device",
                     lambda fd, *_: is_registry_temp(fd_path(fd))),
    "fsync_eio": ("fsync", errno.EIO, "fsync", "input/output error",
                  lambda fd: is_registry_temp(fd_path(fd))),
    "replace_eio": ("replace", errno.EIO, "replace", "input/output error",
                    lambda src, *_: is_registry_temp(src)),
    "replace_enospc": ("replace", errno.ENOSPC, "replace", "ENOSPC",
                       lambda src, *_: is_registry_temp(src)),
    "backup_link_eio": ("link", errno.EIO, "backup rotation", "input/output error",
                        lambda src, dst, *_: Path(src).name == "model_registry.json"),
    "backup_unlink_eio": ("unlink", errno.EIO, "backup rotation", "EIO",
                          lambda path, *_: Path(path).name.startswith("model_registry.0")),
}


class TestFailedWrites:
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_previous_registry_is_untouched(
            self, store: RegistryStore, inject: Injector, case: str) -> None:
        """A failing step raises StoreError naming step and cause; the old file is intact."""
        func, code, step, cause, match = CASES[case]
        if case == "backup_unlink_eio":
            for mid in ("x", "y"):  # fill the backups up to the cap so rotation deletes one
                with store.transaction() as doc:
                    doc.models[mid] = make_entry(mid)
        before = store.path.read_bytes()
        inject.fail(func, code, match)
        with pytest.raises(StoreError) as info:
            add_c(store)
        assert inject.hits == 1
        message = str(info.value)
        assert step in message
        assert cause in message
        assert str(store.path.parent) in message
        assert store.path.read_bytes() == before
        assert leftovers(store) == []
        inject.undo()
        add_c(store)
        assert "c" in decode(store.path.read_bytes()).models

    def test_failed_fsync_is_not_retried(self, store: RegistryStore, inject: Injector) -> None:
        """After fsync of the temp file fails once, the store gives up instead of retrying."""
        inject.fail("fsync", errno.EIO, lambda fd: is_registry_temp(fd_path(fd)))
        with pytest.raises(StoreError, match="fsync"):
            add_c(store)
        assert inject.hits == 1

    def test_failed_directory_fsync_is_an_error(
            self, store: RegistryStore, inject: Injector) -> None:
        """A failing directory fsync after the rename is reported; the file still parses."""
        directory = str(store.path.parent)
        inject.fail("fsync", errno.EIO, lambda fd: fd_path(fd) == directory)
        with pytest.raises(StoreError) as info:
            add_c(store)
        assert "directory fsync" in str(info.value)
        assert "input/output error" in str(info.value)
        decode(store.path.read_bytes())
        assert leftovers(store) == []

    def test_failed_metadata_write_after_registry_write(
            self, store: RegistryStore, inject: Injector) -> None:
        """A metadata file failure is a StoreError; the registry already holds the change."""
        inject.fail("write", errno.ENOSPC,
                    lambda fd, *_: Path(fd_path(fd)).name.startswith(".c_metadata.json."))
        with pytest.raises(StoreError, match="no space left on device"):
            add_c(store)
        assert "c" in decode(store.path.read_bytes()).models
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

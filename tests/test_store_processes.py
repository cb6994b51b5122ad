"""Storage with real processes: lock contention, concurrent writers, SIGKILL, failpoints."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from registry.config import Config
from registry.errors import StoreBusyError
from registry.storage.backups import read_info
from registry.storage.failpoints import ENV_VAR, FAILPOINTS
from registry.storage.store import RegistryStore

REPO = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).resolve().parent / "helpers" / "writer.py"
DEADLINE = 60.0


class Proc:
    """A child process whose stdout is read line by line with a deadline."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        full_env.update({"PYTHONPATH": str(REPO), **(env or {})})
        self.popen = subprocess.Popen(
            [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=full_env, cwd=REPO, bufsize=0)
        assert self.popen.stdout is not None
        self.fd = self.popen.stdout.fileno()
        self.buffer = b""
        self.lines: list[str] = []

    def _fill(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return True
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return False
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def wait_lines(self, count: int, timeout: float = DEADLINE) -> None:
        """Block until at least ``count`` lines arrived (fail on deadline or early exit)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {len(self.lines)} of {count} lines before deadline"
            assert self._fill(remaining), f"process ended after {len(self.lines)} lines"

    def drain_for(self, seconds: float) -> None:
        """Keep reading output for ``seconds`` (picks a random kill instant; not a sync)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and self._fill(remaining):
            pass

    def finish(self, timeout: float = DEADLINE) -> int:
        """Read stdout to EOF and reap; returns the exit status."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline - time.monotonic()):
            assert time.monotonic() < deadline, "process did not finish in time"
        return self.popen.wait(timeout=max(deadline - time.monotonic(), 1.0))

    def kill(self) -> None:
        """SIGKILL the process (if still running)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Kill and reap, closing pipes (for ``finally``)."""
        self.kill()
        self.popen.wait(timeout=DEADLINE)
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                pipe.close()


def writer(out: Path, *args: str, env: dict[str, str] | None = None) -> Proc:
    """Start ``tests/helpers/writer.py`` on ``out``."""
    return Proc([str(WRITER), str(out), *args], env=env)


def run_writer(out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run the writer to completion; returns its status and acknowledged ids."""
    proc = writer(out, *args, env=env)
    try:
        status = proc.finish()
    finally:
        proc.close()
    return status, proc.lines


def check_invariants(out: Path, acked: set[str]) -> None:
    """The database is sound without recovery, holds every acknowledged model, backups are
    sound and no newer than it."""
    store = RegistryStore(Config(output_dir=out))
    if not store.path.exists():
        assert not acked
        return
    assert store.health() is None
    doc = store.load()
    missing = acked - set(doc.models)
    assert not missing, f"acknowledged models lost: {sorted(missing)}"
    for backup in store.backup_list():
        info = read_info(backup.path)
        assert info.problems == []
        assert info.generation <= doc.generation


class TestLock:
    def test_foreign_filelock_holder_makes_us_busy(self, tmp_path: Path) -> None:
        """A process holding a FileLock on the lock path -> StoreBusyError naming the file."""
        store = RegistryStore(Config(output_dir=tmp_path, lock_timeout=0.3))
        holder = Proc(["-c", textwrap.dedent(f"""
            import sys
            from filelock import FileLock
            lock = FileLock({str(store.lock_path)!r})
            lock.acquire()
            print("locked", flush=True)
            sys.stdin.read()
        """)])
        try:
            holder.wait_lines(1)
            with pytest.raises(StoreBusyError) as info, store.transaction():
                pass
            assert isinstance(info.value, TimeoutError)
            assert str(store.lock_path) in str(info.value)
            assert "0.3 s" in str(info.value)
        finally:
            holder.close()
        with store.transaction() as doc:
            doc.roots.append("free again")
        assert store.load().roots == ["free again"]

    def test_busy_error_names_the_holding_pid(self, tmp_path: Path) -> None:
        """When the holder is one of ours, the error names its pid from the owner file."""
        store = RegistryStore(Config(output_dir=tmp_path, lock_timeout=0.3))
        holder = writer(tmp_path, "--hold")
        try:
            holder.wait_lines(1)
            with pytest.raises(StoreBusyError) as info, store.transaction():
                pass
            assert f"pid {holder.popen.pid}" in str(info.value)
            assert "holder" in str(info.value)
        finally:
            holder.close()


class TestConcurrency:
    def test_four_writers_lose_nothing(self, tmp_path: Path) -> None:
        """Four processes adding 25 models each at once end with all 100 and 100 writes."""
        barrier = tmp_path / "go"
        procs = [writer(tmp_path, "--prefix", f"p{i}", "--count", "25", "--barrier",
                        str(barrier)) for i in range(4)]
        try:
            barrier.touch()
            statuses = [proc.finish() for proc in procs]
        finally:
            for proc in procs:
                proc.close()
        assert statuses == [0, 0, 0, 0]
        acked = {line for proc in procs for line in proc.lines}
        assert len(acked) == 100
        doc = RegistryStore(Config(output_dir=tmp_path)).load()
        assert set(doc.models) == acked
        assert doc.generation == 100
        check_invariants(tmp_path, acked)


def kill_rounds(out: Path, rounds: int, seed: int) -> None:
    """SIGKILL a looping writer at random points ``rounds`` times, checking invariants."""
    rng = random.Random(seed)
    acked: set[str] = set()
    for round_no in range(rounds):
        proc = writer(out, "--prefix", f"r{round_no}", "--count", "0", "--backup-count", "3")
        try:
            wanted = rng.randint(0, 3)
            if wanted:
                proc.wait_lines(wanted)
            proc.drain_for(rng.uniform(0.0, 0.004))
            proc.kill()
            proc.finish()
        finally:
            proc.close()
        acked.update(proc.lines)
        check_invariants(out, acked)
    assert acked, "no write was ever acknowledged"
    store = RegistryStore(Config(output_dir=out))
    with store.transaction() as doc:
        doc.roots.append("final")
    check_invariants(out, acked)
    assert not list(out.glob(".model_registry.json.*.tmp"))


class TestSigkill:
    def test_random_sigkill_rounds(self, tmp_path: Path) -> None:
        """20 SIGKILLs at random points never lose an acknowledged model or tear a file."""
        kill_rounds(tmp_path, 20, seed=20261127)

    @pytest.mark.slow
    @pytest.mark.timeout(3600)
    def test_random_sigkill_rounds_long(self, tmp_path: Path) -> None:
        """1,000 SIGKILL rounds (ten fresh registries of 100) keep every invariant."""
        for chunk in range(10):  # fresh registries keep each round's cost bounded
            kill_rounds(tmp_path / f"chunk{chunk}", 100, seed=1000 + chunk)


AFTER_COMMIT = set(FAILPOINTS) - {"before_db_commit"}


class TestFailpoints:
    @pytest.mark.parametrize("name", FAILPOINTS)
    def test_crash_at_each_step_leaves_a_loadable_registry(
            self, tmp_path: Path, name: str) -> None:
        """Dying at a named step leaves old or new content, acked data and no blocking temp."""
        status, base = run_writer(tmp_path, "--prefix", "base", "--count", "3")
        assert status == 0
        status, acked = run_writer(tmp_path, "--prefix", "crash", "--count", "1",
                                   env={ENV_VAR: name})
        assert status == -signal.SIGKILL
        assert acked == []
        store = RegistryStore(Config(output_dir=tmp_path))
        assert store.health() is None
        doc = store.load()
        assert set(base) <= set(doc.models)
        assert ("crash-0" in doc.models) == (name in AFTER_COMMIT)
        status, after = run_writer(tmp_path, "--prefix", "next", "--count", "1")
        assert status == 0
        check_invariants(tmp_path, set(base) | set(after))
        assert not list(tmp_path.glob(".model_registry.json.*.tmp"))
        assert not list((tmp_path / "backups").glob(".*.tmp"))
        assert RegistryStore(Config(output_dir=tmp_path)).verify() == []

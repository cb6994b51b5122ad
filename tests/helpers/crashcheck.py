"""Drive ``scan_writer.py`` (kill rounds) and check the registry's crash invariants.

Shared by ``tests/test_reliability_crash.py`` (100 rounds) and ``bench/reliability_long.py``
(1,000+ rounds). Only public behaviour is checked: the database's integrity (read-only),
``RegistryStore.load()``, the backups.
"""

from __future__ import annotations

import itertools
import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.config import Config
from registry.storage.backups import read_info
from registry.storage.db import EMPTY_MESSAGE, read_generation
from registry.storage.failpoints import ENV_VAR
from registry.storage.store import RegistryStore

REPO = Path(__file__).resolve().parents[2]
SCAN_WRITER = Path(__file__).resolve().parent / "scan_writer.py"
DEADLINE = 60.0


def version_key(version: str) -> tuple[int, ...]:
    """``"1.2.3"`` -> ``(1, 2, 3)`` (semantic order)."""
    return tuple(int(part) for part in version.split("."))


@dataclass
class Ack:
    """One acknowledged registration: the writer printed it after the call returned."""

    model_id: str
    version: str
    sha256: str


@dataclass
class RoundResult:
    """What one kill round produced."""

    acks: list[Ack] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    signal: int = 0


class ForkServer:
    """The ``scan_writer.py`` fork server as a subprocess, read line by line with deadlines."""

    def __init__(self, output_dir: Path, watch_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        env["PYTHONPATH"] = str(REPO)
        self.popen = subprocess.Popen(
            [sys.executable, str(SCAN_WRITER), str(output_dir), str(watch_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=REPO, bufsize=0)
        assert self.popen.stdout is not None
        self.fd = self.popen.stdout.fileno()
        self.buffer = b""
        self.pending: list[str] = []

    def send(self, line: str) -> None:
        """Send one command."""
        assert self.popen.stdin is not None
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def _fill(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if ready:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                msg = "fork server ended"
                raise AssertionError(msg)
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\n")
            self.pending.extend(line.decode("utf-8", "replace") for line in complete)

    def read_until(self, prefix: str, sink: list[str], timeout: float = DEADLINE) -> str:
        """Collect lines into ``sink`` until one starts with ``prefix``; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                line = self.pending.pop(0)
                if line.startswith(prefix):
                    return line
                sink.append(line)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"no {prefix!r} line within {timeout:.0f} s"
                raise AssertionError(msg)
            self._fill(remaining)

    def collect_for(self, seconds: float, sink: list[str]) -> None:
        """Read output into ``sink`` for ``seconds`` (this picks the random kill instant)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._fill(remaining)
            sink.extend(self.pending)
            self.pending.clear()

    def round(self, round_no: int, *, kill_after: float | None,
              failpoint: str | None = None) -> RoundResult:
        """Fork a writer, SIGKILL it after ``kill_after`` s (or let the failpoint kill it)."""
        lines: list[str] = []
        self.send(f"fork {round_no}" + (f" {failpoint}" if failpoint else ""))
        pid = int(self.read_until(f"pid {round_no} ", lines).split()[2])
        if kill_after is not None:
            self.collect_for(kill_after, lines)
            os.kill(pid, signal.SIGKILL)
        self.send(f"reap {pid}")
        reaped = self.read_until(f"reaped {pid} ", lines)
        result = RoundResult(signal=int(reaped.split()[2]))
        for line in lines:
            words = line.split()
            if words and words[0] == "ack" and len(words) == 4:
                result.acks.append(Ack(words[1], words[2], words[3]))
            else:
                result.problems.append(line)
        return result

    def close(self) -> None:
        """Stop the server and reap it (for ``finally``)."""
        if self.popen.poll() is None:
            try:
                self.send("quit")
                self.popen.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.popen.kill()
                self.popen.wait(timeout=10)
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                pipe.close()


def check_scan_invariants(output_dir: Path, acks: list[Ack]) -> list[str]:
    """Every crash invariant; returns the violations (empty when all hold).

    The database passes SQLite's integrity check read-only (checked *before* any load, so a
    recovery cannot hide a damaged file) and ``RegistryStore.load()`` returns its
    generation; every acknowledged ``(model_id, version, sha256)`` is present; versions per
    model strictly increase, no two hold the same bytes; every backup is a sound database
    no newer than the registry.
    """
    violations: list[str] = []
    store = RegistryStore(Config(output_dir=output_dir))
    if not store.path.exists():
        return ["registry database missing"] if acks else []
    problem = store.health()
    if problem is not None and EMPTY_MESSAGE in problem and not acks:
        return []  # killed while creating it: nothing was ever committed (next open resets)
    if problem is not None:
        return [f"registry database is damaged: {problem}"]
    found_generation = read_generation(store.path)
    doc = store.load()
    if found_generation is None or doc.generation != found_generation[0]:
        violations.append("load() returned another generation than the file (a recovery ran)")
    for ack in acks:
        entry = doc.models.get(ack.model_id)
        if entry is None:
            violations.append(f"acknowledged model {ack.model_id} lost")
            continue
        found = [v for v in entry.versions if v.version == ack.version]
        if not found:
            violations.append(f"acknowledged {ack.model_id}@{ack.version} lost")
        elif found[0].sha256 != ack.sha256:
            violations.append(f"{ack.model_id}@{ack.version} has sha {found[0].sha256[:12]}, "
                              f"acknowledged {ack.sha256[:12]}")
    for model_id, entry in doc.models.items():
        keys = [version_key(v.version) for v in entry.versions]
        if any(b <= a for a, b in itertools.pairwise(keys)):
            violations.append(f"{model_id} versions not strictly increasing: "
                              f"{[v.version for v in entry.versions]}")
        shas = [v.sha256 for v in entry.versions]
        if len(set(shas)) != len(shas):
            violations.append(f"{model_id} has a duplicate version of the same bytes")
    for backup in store.backup_list():
        info = read_info(backup.path)
        if info.problems:
            violations.append(f"backup {backup.path.name} is not sound: {info.problems}")
        elif info.generation > doc.generation:
            violations.append(f"backup {backup.path.name} is newer than the registry")
    return violations


def kill_rounds(output_dir: Path, watch_dir: Path, rounds: int, *, seed: int = 5,
                max_delay: float = 0.2) -> dict[str, int]:
    """Run ``rounds`` random-instant SIGKILL rounds, checking invariants after each.

    Returns:
        Counters: ``rounds``, ``acks``, ``violations``, ``writer_problems``, plus the
        first violations under ``messages`` (for the report).

    Raises:
        AssertionError: the fork server stopped answering.
    """
    rng = random.Random(seed)
    all_acks: list[Ack] = []
    counts: dict[str, Any] = {"rounds": 0, "acks": 0, "violations": 0, "writer_problems": 0,
                              "messages": []}
    server = ForkServer(output_dir, watch_dir)
    try:
        for round_no in range(1, rounds + 1):
            result = server.round(round_no, kill_after=rng.uniform(0.0, max_delay))
            all_acks.extend(result.acks)
            violations = check_scan_invariants(output_dir, all_acks)
            counts["rounds"] += 1
            counts["acks"] += len(result.acks)
            counts["violations"] += len(violations)
            counts["writer_problems"] += len(result.problems)
            counts["messages"].extend(f"round {round_no}: {m}"
                                      for m in [*violations, *result.problems][:3])
    finally:
        server.close()
    return counts


__all__ = [
    "Ack",
    "ForkServer",
    "RoundResult",
    "check_scan_invariants",
    "kill_rounds",
    "version_key",
]

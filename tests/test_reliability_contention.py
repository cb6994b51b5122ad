"""Contention: the service, four ``--scan`` loops, query commands and raw readers at once."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.daemon import console_script, gnn_text, running_daemon, write

DURATION = float(os.environ.get("GNNR_CONTENTION_SECONDS", "6"))
"""Seconds of contention in the normal suite (the long run sets more)."""

SCANNERS = 4


def clean_env() -> dict[str, str]:
    """The environment without ``GNN_REGISTRY_*`` settings of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY_")}


@dataclass
class Tally:
    """What the concurrent loops saw (appended from several threads; lists are thread-safe)."""

    acked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    raw_reads: list[int] = field(default_factory=list)


def scan_loop(out: Path, folder: Path, prefix: str, stop: threading.Event,
              tally: Tally) -> None:
    """Add a file, run ``gnn-registryd --scan`` on the folder, acknowledge it on exit 0."""
    k = 0
    while not stop.is_set():
        name = f"{prefix}_{k}"
        write(folder / f"{name}.md", gnn_text(name.replace("_", " ")))
        result = subprocess.run(
            [str(console_script()), "--scan", "--output-dir", str(out), str(folder)],
            capture_output=True, text=True, env={**clean_env(), "GNN_REGISTRY_LOCK_TIMEOUT": "60"},
            timeout=120, check=False)
        if result.returncode == 0:
            tally.acked.extend(f"{prefix}_{i}" for i in range(k + 1))
        else:
            tally.failures.append(f"scan {name}: exit {result.returncode}: {result.stderr}")
        k += 1


def query_loop(out: Path, stop: threading.Event, tally: Tally) -> None:
    """Run ``gnn-registry list --json`` and ``show --json``; each must exit 0 with JSON."""
    n = 0
    while not stop.is_set():
        argv = (["list", "--json"] if n % 2 == 0 else ["show", "svc_0", "--json"])
        result = subprocess.run(
            [str(console_script("gnn-registry")), *argv, "--output-dir", str(out)],
            capture_output=True, text=True, env=clean_env(), timeout=120, check=False)
        if result.returncode != 0:
            tally.failures.append(f"{argv}: exit {result.returncode}: {result.stderr}")
        else:
            try:
                json.loads(result.stdout)
            except ValueError as exc:
                tally.failures.append(f"{argv}: unparsable output: {exc}")
        tally.queries.append(n)
        n += 1


def raw_reader(path: Path, stop: threading.Event, tally: Tally) -> None:
    """``json.load`` the registry file in a loop: it must always parse."""
    n = 0
    while not stop.is_set():
        try:
            with path.open("rb") as handle:
                json.load(handle)
        except ValueError as exc:
            tally.failures.append(f"raw read {n}: {exc}")
        n += 1
        tally.raw_reads.append(n)
        stop.wait(0.005)  # pacing of a reader loop, not synchronisation


def service_writer(folder: Path, stop: threading.Event, tally: Tally) -> None:
    """Write new model files into the service's folder."""
    k = 0
    while not stop.is_set():
        write(folder / f"svc_{k}.md", gnn_text(f"svc {k}"))
        tally.acked.append(f"svc_{k}")  # the service must pick it up eventually
        k += 1
        stop.wait(0.1)  # pacing of the editor, not synchronisation


def run_threads(targets: list[Callable[[], None]], stop: threading.Event) -> None:
    """Run ``targets`` in threads for :data:`DURATION` seconds, then stop and join them."""
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    stop.wait(DURATION)  # the contention period is the point of the test
    stop.set()
    for thread in threads:
        thread.join(180)
        assert not thread.is_alive()


class TestContention:
    def test_no_lost_update_no_partial_read(self, tmp_path: Path) -> None:
        """Service, 4 scan loops, queries and raw readers at once: nothing lost or torn."""
        out, svc = tmp_path / "out", tmp_path / "svc"
        write(svc / "svc_0.md", gnn_text("svc 0"))
        folders = [tmp_path / f"scan{i}" for i in range(SCANNERS)]
        for folder in folders:
            folder.mkdir()
        tally = Tally()
        with running_daemon(["--settle-ms", "100", svc], output_dir=out) as daemon:
            daemon.wait_registry(lambda d: "svc_0" in d.models)
            stop = threading.Event()
            targets: list[Callable[[], None]] = [
                lambda f=f, i=i: scan_loop(out, f, f"c{i}", stop, tally)  # type: ignore[misc]
                for i, f in enumerate(folders)]
            targets += [lambda: query_loop(out, stop, tally),
                        lambda: raw_reader(out / "model_registry.json", stop, tally),
                        lambda: service_writer(svc, stop, tally)]
            run_threads(targets, stop)
            assert tally.failures == []
            expected = set(tally.acked)
            daemon.wait_registry(lambda d: expected <= set(d.models),
                                 what="every acknowledged model", timeout=60)
            assert daemon.stop() == 0
        first_scans = {a for a in tally.acked if a.startswith("c") and a.endswith("_0")}
        assert len(first_scans) == SCANNERS  # every scan loop acknowledged at least one scan
        assert len(tally.queries) >= 2
        assert len(tally.raw_reads) >= 10

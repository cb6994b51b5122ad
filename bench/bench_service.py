"""Service benchmark: save->registered latency, a 10,000-file burst, idle memory.

Run from the checkout (``python bench/bench_service.py [--saves 500] [--files 10000]``). It
prints the figures and rewrites the "Service" section of ``bench/RESULTS.md``:

1. **Latency.** Model files under watch (default settle window, 300 ms); ``--saves`` times,
   rewrite one with new content (rename-over save) and measure from the moment the write is
   complete to the moment the registry file holds the new sha256 (polled cheaply: the registry
   is replaced atomically, so its inode changes on every write, and only then is its index
   line read). One run per ``--models`` count: 1 model (its history grows to ``--saves``
   versions: the worst case, as the commit re-encodes that model's whole history) and 50
   models saved round-robin (about ten versions each).
   Targets: p50 <= settle + 20 ms, p99 <= settle + 100 ms.
2. **Burst.** ``--files`` new files written as fast as possible into a watched directory on
   tmpfs (``/dev/shm``); time until every one is registered, the number of watcher overflows
   (each is followed by a full reconcile, so "missed" must still be 0), versus the one-shot
   ``gnn-registryd --scan`` of the same files into a fresh registry. Target: <= 2x.
3. **Idle RSS** of the service holding those models, after the burst is done.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
SCRIPT = Path(sys.executable).with_name("gnn-registryd")


def model_text(i: int, variant: int = 0) -> str:
    """A valid GNN model of realistic shape; ``variant`` changes a parameter only."""
    n = 2 + i % 5
    rows = ",".join("(" + ",".join(f"{1.0 if r == c else 0.0}" for c in range(n)) + ")"
                    for r in range(n))
    return (f"# GNN Example: Bench model {i}\n# GNN Version: 1.0\n\n"
            f"## GNNSection\nBench{i}\n\n## GNNVersionAndFlags\nGNN v1\n\n"
            f"## ModelName\nBench model {i}\n\n## ModelAnnotation\nGenerated for the benchmark.\n\n"
            f"## StateSpaceBlock\ns[{n},1,type=float]\no[{n},1,type=int]\nA[{n},{n},type=float]\n"
            f"B[{n},{n},type=float]\n\n## Connections\ns>o\nA-o\nB>s\n\n"
            f"## InitialParameterization\nA={{{rows}}}\nB={{{rows}}}\n\n"
            f"## Time\nDynamic\nDiscreteTime=s\nModelTimeHorizon={10 + variant}\n\n"
            f"## Footer\nBench model {i}\n\n## Signature\nbench\n")


class Service:
    """A ``gnn-registryd`` subprocess whose JSON log lines are collected in a thread."""

    def __init__(self, dirs: list[Path], out: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY")}
        self.proc = subprocess.Popen([str(SCRIPT), "--output-dir", str(out), *extra,
                                      *map(str, dirs)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                with self._lock:
                    self.events.append(entry)

    def count(self, event: str) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.get("event") == event)

    def wait(self, event: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.count(event) == 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"service ended or timed out waiting for {event}")
            time.sleep(0.01)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(120)
        self._reader.join(10)
        return code


def _registry_sha(registry: Path, model_id: str, last_inode: list[int]) -> str | None:
    """The model's current sha256, reading the registry only when it was replaced."""
    try:
        inode = registry.stat().st_ino
    except FileNotFoundError:
        return None
    if inode == last_inode[0]:
        return None
    last_inode[0] = inode
    # The registry starts with one index line per model ("<id>":{..."sha256":...}), before
    # the (much larger) model lines: read the current sha256 there, not the whole document.
    prefix = json.dumps(model_id).encode() + b":"
    try:
        data = registry.read_bytes()
    except FileNotFoundError:
        return None
    for line in data.split(b"\n"):
        if line.startswith(prefix):
            try:
                row = json.loads(line[len(prefix):].rstrip(b","))
            except ValueError:
                return None
            return str(row["sha256"])
    return None


def bench_latency(root: Path, saves: int, settle_ms: int,
                  model_count: int = 1) -> dict[str, float]:
    """Save->registered latency over ``saves`` rename-over saves, round-robin over
    ``model_count`` model files (1: one model whose history grows to ``saves`` versions)."""
    models, out = root / f"lat_models_{model_count}", root / f"lat_out_{model_count}"
    models.mkdir()
    for j in range(model_count):
        (models / f"latency_{j}.md").write_text(model_text(j))
    svc = Service([models], out, "--settle-ms", str(settle_ms))
    latencies: list[float] = []
    try:
        svc.wait("service_started")
        registry = out / "model_registry.json"
        for k in range(1, saves + 1):
            j = k % model_count
            target = models / f"latency_{j}.md"
            data = model_text(j, variant=k).encode()
            want = hashlib.sha256(data).hexdigest()
            tmp = models / f".latency_{j}.md.tmp"
            tmp.write_bytes(data)
            tmp.replace(target)
            done = time.perf_counter()
            seen = [-1]
            deadline = done + 30
            while _registry_sha(registry, f"latency_{j}", seen) != want:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"save {k} not registered within 30 s")
                time.sleep(0.001)
            latencies.append((time.perf_counter() - done) * 1000)
    finally:
        svc.stop()
    latencies.sort()
    work = sorted(float(e["duration_ms"]) for e in svc.events
                  if e.get("event") == "batch_processed")
    return {"saves": saves, "settle_ms": settle_ms, "models": model_count,
            "batch_work_p50_ms": statistics.median(work) if work else 0.0,
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
            "max_ms": latencies[-1]}


def _write_files(directory: Path, count: int) -> None:
    for i in range(count):
        (directory / f"bench_{i:05d}.md").write_text(model_text(i))


def bench_burst(tmpfs: Path, files: int) -> dict[str, float]:
    """A burst of ``files`` new files into a watched tmpfs directory vs a one-shot scan."""
    models, out = tmpfs / "burst_models", tmpfs / "burst_out"
    models.mkdir()
    svc = Service([models], out)
    result: dict[str, float] = {"files": files}
    try:
        svc.wait("service_started")
        registry = out / "model_registry.json"
        started = time.perf_counter()
        _write_files(models, files)
        result["write_s"] = time.perf_counter() - started
        deadline = started + 600
        seen = -1
        count = 0
        while count < files:
            if time.perf_counter() > deadline:
                break
            time.sleep(0.05)
            with contextlib.suppress(FileNotFoundError, ValueError):
                inode = registry.stat().st_ino
                if inode != seen:
                    seen = inode
                    count = len(json.loads(registry.read_bytes())["models"])
        result["service_s"] = time.perf_counter() - started
        result["registered"] = count
        result["missed"] = files - count
        result["overflows"] = svc.count("watcher_overflow")
        result["batches"] = svc.count("batch_processed")
        # Idle: wait until no batch was processed for 2 s, then read RSS.
        quiet_since, last = time.monotonic(), svc.count("batch_processed")
        while time.monotonic() - quiet_since < 2:
            time.sleep(0.1)
            now = svc.count("batch_processed")
            if now != last:
                quiet_since, last = time.monotonic(), now
        result["idle_rss_mib"] = svc.rss_kib() / 1024
    finally:
        svc.stop()
    scan_out = tmpfs / "scan_out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY")}
    started = time.perf_counter()
    subprocess.run([str(SCRIPT), "--scan", "--output-dir", str(scan_out), str(models)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    result["scan_s"] = time.perf_counter() - started
    result["ratio"] = result["service_s"] / result["scan_s"]
    return result


def write_results(lats: list[dict[str, float]], burst: dict[str, float] | None,
                  command: str) -> str:
    """Render the "Service" section and replace it in ``bench/RESULTS.md``."""
    lines = ["## Service", "", f"Command: `{command}` (2 shared cores; numbers vary with load).",
             ""]
    for lat in lats:
        s = lat["settle_ms"]
        spread = ("one model (its history grows to that many versions)"
                  if lat["models"] == 1 else f"round-robin over {lat['models']:.0f} models")
        lines += [
            f"- save->registered latency over {lat['saves']:.0f} rename-over saves, {spread}, "
            f"settle {s:.0f} ms: p50 **{lat['p50_ms']:.1f} ms** (target <= {s + 20:.0f}), "
            f"p99 **{lat['p99_ms']:.1f} ms** (target <= {s + 100:.0f}), max {lat['max_ms']:.1f} ms",
            f"  - of which the worker's batch (read, validate, registry commit) p50 "
            f"{lat['batch_work_p50_ms']:.1f} ms",
        ]
    if burst is not None:
        lines += [
            f"- burst of {burst['files']:.0f} new files on tmpfs: all registered in "
            f"**{burst['service_s']:.2f} s** (writing took {burst['write_s']:.2f} s; "
            f"{burst['batches']:.0f} batches), missed **{burst['missed']:.0f}**, "
            f"watcher overflows {burst['overflows']:.0f}",
            f"- one-shot `--scan` of the same files: {burst['scan_s']:.2f} s; "
            f"service/scan ratio **{burst['ratio']:.2f}x** (target <= 2x)",
            f"- idle RSS of the service with {burst['registered']:.0f} models: "
            f"**{burst['idle_rss_mib']:.1f} MiB**",
        ]
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find("## Service")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    RESULTS.write_text(text)
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=500)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--settle-ms", type=int, default=300)
    parser.add_argument("--models", type=int, nargs="+", default=[1, 50],
                        help="latency runs: model files the saves rotate over (one run each)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    lats: list[dict[str, float]] = []
    burst = None
    with tempfile.TemporaryDirectory(prefix="gnnr-bench-") as disk:
        for count in ([] if args.skip_latency else args.models):
            lat = bench_latency(Path(disk), args.saves, args.settle_ms, count)
            lats.append(lat)
            print(json.dumps({"latency": lat}, indent=2))
    if not args.skip_burst:
        tmpfs = Path(tempfile.mkdtemp(prefix="gnnr-bench-", dir=shm))
        try:
            burst = bench_burst(tmpfs, args.files)
            print(json.dumps({"burst": burst}, indent=2))
        finally:
            shutil.rmtree(tmpfs, ignore_errors=True)
    if not args.no_write:
        command = "python bench/bench_service.py " + " ".join(sys.argv[1:])
        print(write_results(lats, burst, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Service benchmark: save->registered latency, a 10,000-file burst, idle memory.

Run from the checkout (``.venv/bin/python bench/bench_service.py [--saves 500] [--files 10000]
[--registry-models N]``). It prints the figures and rewrites the "Service" section of
``bench/RESULTS.md`` (``--no-write``: not):

1. **Latency.** Model files under watch (default settle window, 300 ms); ``--saves`` times,
   rewrite one with new content (rename-over save) and measure from the moment the write is
   complete to the moment the service's JSON log line ``file_processed`` for that path
   arrives (the service logs it once the version is committed; when the line carries a
   ``sha256`` it must be the new content's). The log is the acknowledgement on every storage
   engine; the registry file's layout is not relied on. One run per ``--models`` count:
   1 model (its history grows to ``--saves`` versions: the worst case) and 50 models saved
   round-robin (about ten versions each).
   With ``--registry-models N`` (issue 10: 10,000), each run starts from a registry of N
   generated models (``bench/gen_corpus.py``, built once by ``gnn-registryd --scan`` and
   cached, see ``bench/wholeproc.py``; each run gets its own copy), and the service watches
   that corpus as well as the saved files.
   Targets: p50 <= settle + 20 ms, p99 <= settle + 100 ms.
2. **Burst.** ``--files`` new files written as fast as possible into a watched directory on
   tmpfs (``/dev/shm``); time until every one is registered, the number of watcher overflows
   (each is followed by a full reconcile, so "missed" must still be 0), versus the one-shot
   ``gnn-registryd --scan`` of the same files into a fresh registry. Target: <= 2x.
3. **Idle RSS** of the service holding those models, after the burst is done; with
   ``--registry-models N``, also of a service started over the N-model registry (watching its
   corpus), once it has been quiet for 2 s: its RSS then and its peak so far (``VmHWM``,
   which includes the startup reconcile). Target (issue 10, 10,000 models): peak <= 60 MiB.
   Each latency run also reads its service's RSS once quiet for 2 s after the last save
   (judged against the same limit when it ran over a pre-built registry).

Prints a ``met``/``MISSED`` line per latency and memory target; ``--check`` exits 1 when one
is missed. ``bench/bench_issue10.py`` runs the issue-10 part with the other issue-10 targets.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verdicts
import wholeproc

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
SCRIPT = Path(sys.executable).with_name("gnn-registryd")


class Base(NamedTuple):
    """A pre-built registry the latency and idle runs start from (never changed: copied)."""

    count: int
    corpus: Path
    out: Path


def prebuilt(count: int, cache: Path | None = None) -> Base:
    """The cached registry of ``count`` generated models (built on first use)."""
    corpus, out, _first = wholeproc.registry(count, cache=cache)
    return Base(count, corpus, out)


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
    """A ``gnn-registryd`` subprocess whose JSON log lines are collected in a thread.

    Each event gets ``"_at"``: the ``time.perf_counter()`` at which its line was read.
    """

    def __init__(self, dirs: list[Path], out: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY")}
        self.proc = subprocess.Popen([str(SCRIPT), "--output-dir", str(out), *extra,
                                      *map(str, dirs)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            at = time.perf_counter()
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entry["_at"] = at
                    with self._cond:
                        self.events.append(entry)
                        self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def count(self, event: str) -> int:
        with self._cond:
            return sum(1 for e in self.events if e.get("event") == event)

    def mark(self) -> int:
        """The number of events so far (for :meth:`first`)."""
        with self._cond:
            return len(self.events)

    def first(self, predicate: Callable[[dict[str, Any]], bool], since: int = 0,
              timeout: float = 300) -> dict[str, Any]:
        """The first event from index ``since`` on that satisfies ``predicate`` (waited for)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                since = len(self.events)
                left = deadline - time.monotonic()
                if self.proc.poll() is not None or left <= 0:
                    raise RuntimeError("service ended, or timed out waiting for an event")
                self._cond.wait(min(left, 0.5))

    def wait(self, event: str, timeout: float = 300) -> None:
        self.first(lambda e: e.get("event") == event, timeout=timeout)

    def quiet(self, seconds: float = 2.0, timeout: float = 300) -> None:
        """Wait until no log line came for ``seconds``."""
        deadline = time.monotonic() + timeout
        last, since = self.mark(), time.monotonic()
        while time.monotonic() - since < seconds:
            if time.monotonic() > deadline:
                raise RuntimeError("the service never went quiet")
            time.sleep(0.1)
            now = self.mark()
            if now != last:
                last, since = now, time.monotonic()

    def status_kib(self, field: str = "VmRSS") -> int:
        """A memory field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``: peak) in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        return 0

    def rss_kib(self) -> int:
        return self.status_kib("VmRSS")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(120)
        self._reader.join(10)
        return code


def _acknowledged(path: Path, sha256: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the service's ``file_processed`` line for ``path`` (and ``sha256``, if logged)."""
    want = os.path.realpath(path)

    def match(event: dict[str, Any]) -> bool:
        if event.get("event") != "file_processed" or not isinstance(event.get("path"), str):
            return False
        if os.path.realpath(event["path"]) != want:
            return False
        if event.get("status") in ("invalid", "skipped", "error"):
            raise RuntimeError(f"save of {path} not registered: {event}")
        return "sha256" not in event or event["sha256"] == sha256

    return match


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ascending ``ordered`` (never interpolated)."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _start_over(base: Base | None, out: Path, models: Path) -> list[Path]:
    """Copy the pre-built registry (if any) to ``out``; the directories to watch."""
    if base is None:
        return [models]
    wholeproc.copy_registry(base.out, out)
    return [base.corpus, models]


def bench_latency(root: Path, saves: int, settle_ms: int, model_count: int = 1,
                  base: Base | None = None) -> dict[str, float]:
    """Save->registered latency over ``saves`` rename-over saves, round-robin over
    ``model_count`` model files (1: one model whose history grows to ``saves`` versions),
    in a registry that starts as a copy of ``base`` (empty without it)."""
    models, out = root / f"lat_models_{model_count}", root / f"lat_out_{model_count}"
    models.mkdir()
    for j in range(model_count):
        (models / f"latency_{j}.md").write_text(model_text(j))
    dirs = _start_over(base, out, models)
    svc = Service(dirs, out, "--settle-ms", str(settle_ms))
    latencies: list[float] = []
    try:
        svc.wait("service_started", timeout=900)
        for k in range(1, saves + 1):
            j = k % model_count
            target = models / f"latency_{j}.md"
            data = model_text(j, variant=k).encode()
            want = hashlib.sha256(data).hexdigest()
            tmp = models / f".latency_{j}.md.tmp"
            since = svc.mark()
            tmp.write_bytes(data)
            tmp.replace(target)
            done = time.perf_counter()
            event = svc.first(_acknowledged(target, want), since, timeout=60)
            latencies.append((event["_at"] - done) * 1000)
        svc.quiet(2.0)
        idle_rss, peak = svc.status_kib("VmRSS") / 1024, svc.status_kib("VmHWM") / 1024
    finally:
        svc.stop()
        shutil.rmtree(out, ignore_errors=True)
    latencies.sort()
    work = sorted(float(e["duration_ms"]) for e in svc.events
                  if e.get("event") == "batch_processed")
    return {"saves": saves, "settle_ms": settle_ms, "models": model_count,
            "registry_models": base.count if base else 0,
            "batch_work_p50_ms": statistics.median(work) if work else 0.0,
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 99),
            "max_ms": latencies[-1], "idle_rss_mib": idle_rss, "peak_rss_mib": peak}


def bench_idle(root: Path, base: Base) -> dict[str, float]:
    """RSS of a service started over the pre-built registry (watching its corpus), once it
    has been quiet for 2 s: now and its peak so far (``VmHWM``, the startup included)."""
    out = root / "idle_out"
    wholeproc.copy_registry(base.out, out)
    svc = Service([base.corpus], out)
    try:
        svc.wait("service_started", timeout=900)
        svc.quiet(2.0)
        result = {"registry_models": base.count,
                  "idle_rss_mib": svc.status_kib("VmRSS") / 1024,
                  "idle_peak_mib": svc.status_kib("VmHWM") / 1024}
    finally:
        svc.stop()
        shutil.rmtree(out, ignore_errors=True)
    return result


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


IDLE_PEAK_MIB = 60.0
"""Issue 10: peak RSS of the idle service at 10,000 models."""


def spread(lat: dict[str, float]) -> str:
    """How a latency run's saves were spread, and over what registry."""
    text = ("one model (its history grows to that many versions)" if lat["models"] == 1
            else f"round-robin over {lat['models']:.0f} models")
    if lat.get("registry_models"):
        text += f", in a registry of {lat['registry_models']:,.0f} models"
    return text


def _short(lat: dict[str, float]) -> str:
    """A latency run in a few words, for verdict lines."""
    saves = (f"one model saved {lat['saves']:.0f} times" if lat["models"] == 1 else
             f"{lat['saves']:.0f} saves round-robin over {lat['models']:.0f} models")
    size = lat.get("registry_models", 0)
    return (f"over {size:,.0f} models, " if size else "") + saves


def latency_verdicts(lat: dict[str, float]) -> list[verdicts.Verdict]:
    """p50 <= settle + 20 ms and p99 <= settle + 100 ms."""
    s, what = lat["settle_ms"], f"save->`file_processed` {_short(lat)}:"
    return [verdicts.at_most(f"{what} p50", lat["p50_ms"], s + 20, unit=" ms", digits=1),
            verdicts.at_most(f"{what} p99", lat["p99_ms"], s + 100, unit=" ms", digits=1)]


def idle_verdicts(idle: dict[str, float] | None,
                  lats: Sequence[dict[str, float]] = ()) -> list[verdicts.Verdict]:
    """Peak RSS of the idle service over a pre-built registry <= 60 MiB, and the RSS of the
    service idle after each latency run over one (the same limit: what an idle service holds)."""
    out: list[verdicts.Verdict] = []
    if idle is not None:
        out.append(verdicts.at_most(
            f"idle service over {idle['registry_models']:,.0f} models, peak RSS",
            idle["idle_peak_mib"], IDLE_PEAK_MIB, unit=" MiB", digits=1))
    for lat in lats:
        if lat.get("registry_models"):
            out.append(verdicts.at_most(
                f"service idle after the saves ({_short(lat)}), RSS",
                lat["idle_rss_mib"], IDLE_PEAK_MIB, unit=" MiB", digits=1))
    return out


def lines_for(lats: list[dict[str, float]], idle: dict[str, float] | None) -> list[str]:
    """Markdown bullets for latency runs and an idle run."""
    lines: list[str] = []
    for lat in lats:
        s = lat["settle_ms"]
        lines += [
            f"- save->`file_processed` latency over {lat['saves']:.0f} rename-over saves, "
            f"{spread(lat)}, settle {s:.0f} ms: p50 **{lat['p50_ms']:.1f} ms** (target <= "
            f"{s + 20:.0f}), p99 **{lat['p99_ms']:.1f} ms** (target <= {s + 100:.0f}), "
            f"max {lat['max_ms']:.1f} ms",
            f"  - of which the worker's batch (read, validate, registry commit) p50 "
            f"{lat['batch_work_p50_ms']:.1f} ms; idle afterwards: RSS "
            f"{lat['idle_rss_mib']:.1f} MiB, peak over the run {lat['peak_rss_mib']:.1f} MiB",
        ]
    if idle is not None:
        lines.append(
            f"- idle service started over {idle['registry_models']:,.0f} models: RSS "
            f"{idle['idle_rss_mib']:.1f} MiB, peak **{idle['idle_peak_mib']:.1f} MiB** "
            f"(target <= {IDLE_PEAK_MIB:g})")
    return lines


def write_results(lats: list[dict[str, float]], burst: dict[str, float] | None,
                  command: str, idle: dict[str, float] | None = None) -> str:
    """Render the "Service" section and replace it in ``bench/RESULTS.md``."""
    lines = [f"Command: `{command}` (2 shared cores; numbers vary with load).", "",
             *lines_for(lats, idle)]
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
    body = "\n".join(lines) + "\n"
    verdicts.replace_section("Service", body, RESULTS)
    return "## Service\n\n" + body


def main() -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=500)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--settle-ms", type=int, default=300)
    parser.add_argument("--models", type=int, nargs="+", default=[1, 50],
                        help="latency runs: model files the saves rotate over (one run each)")
    parser.add_argument("--registry-models", type=int, default=0, metavar="N",
                        help="start the latency runs from a registry of N generated models, "
                             "and measure the idle service over it (issue 10: 10000)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder for the pre-built registry (bench/wholeproc.py)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a latency or idle-memory target is missed")
    args = parser.parse_args()
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    base = prebuilt(args.registry_models, args.cache) if args.registry_models else None
    lats: list[dict[str, float]] = []
    burst = idle = None
    with tempfile.TemporaryDirectory(prefix="gnnr-bench-") as disk:
        for count in ([] if args.skip_latency else args.models):
            lat = bench_latency(Path(disk), args.saves, args.settle_ms, count, base)
            lats.append(lat)
            print(json.dumps({"latency": lat}, indent=2))
        if base is not None:
            idle = bench_idle(Path(disk), base)
            print(json.dumps({"idle": idle}, indent=2))
    if not args.skip_burst:
        tmpfs = Path(tempfile.mkdtemp(prefix="gnnr-bench-", dir=shm))
        try:
            burst = bench_burst(tmpfs, args.files)
            print(json.dumps({"burst": burst}, indent=2))
        finally:
            shutil.rmtree(tmpfs, ignore_errors=True)
    if not args.no_write:
        command = "python bench/bench_service.py " + " ".join(sys.argv[1:])
        print(write_results(lats, burst, command.strip(), idle))
    results = [v for lat in lats for v in latency_verdicts(lat)]
    results += idle_verdicts(idle, lats)
    verdicts.report(results)
    return verdicts.exit_status(results, check=args.check)


if __name__ == "__main__":
    sys.exit(main())

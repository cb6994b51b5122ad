"""Every target of issue 10 (the registry on SQLite), measured through whole processes.

Usage: ``.venv/bin/python bench/bench_issue10.py [--full] [--check] [--no-write]``
(more options: ``--help``). Run it with the checkout's ``.venv/bin/python``: the console
scripts beside it (``gnn-registry``, ``gnn-registryd``) are what is measured, never the
library, so the same command measures any storage engine behind them.

In one run, on 2 shared cores (a few minutes by default; ``--full`` makes the latency runs
the issue's 500 saves, about 10 minutes more on the JSON engine):

1. ``bench/bench_wholescan.py``: first ``gnn-registryd --scan`` of ``--files`` generated files
   (10,000) against the read+sha256 floor (<= 12x), the unchanged rescan (<= 0.6x), the first
   scan's peak RSS (<= 60 MiB) and the output folder against the corpus (<= 1.5x on disk);
2. ``bench/bench_queries.py``: ``show``, ``history`` and ``search`` at ``--files`` models
   against a ``--small`` (10) registry (<= 1.25x, wall time and peak RSS), ``list`` against
   ``gnn-registry --help`` (<= 3x);
3. ``bench/bench_service.py`` over a copy of that registry: save->``file_processed`` latency,
   saves round-robin over 50 new models and one model saved ``--saves`` times (p50 <= settle
   + 20 ms, p99 <= settle + 100 ms); the peak RSS of a service started over that registry,
   once idle (<= 60 MiB), and the RSS of each latency run's service once idle after its
   saves (the same limit).

It prints a ``met``/``MISSED`` line per target, writes the section "Issue 10 targets" of
bench/RESULTS.md (other sections are kept; ``--no-write``: not), and with ``--check`` exits 1
when a target is missed. The generated corpus and the scanned registry are cached between
runs (see ``bench/wholeproc.py``); the first scan is measured afresh every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_queries
import bench_service
import bench_wholescan
import verdicts
import wholeproc

SECTION = "Issue 10 targets"
ROUND_ROBIN = 50


def _revision() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes) and engine hash."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=wholeproc.REPO, capture_output=True,
                              text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = "+dirty" if git("status", "--porcelain", "--", "registry", "daemon") else ""
    return f"commit {commit}{dirty}, engine source hash {wholeproc.engine_key()}"


def run_all(args: argparse.Namespace) -> tuple[list[str], list[verdicts.Verdict]]:
    """Run the three benchmarks; the Markdown parts and every verdict, in order."""
    parts: list[str] = []
    results: list[verdicts.Verdict] = []

    print(f"== first scan, rescan and output folder at {args.files:,} files", flush=True)
    scan = bench_wholescan.bench(args.files, 1, args.cache)
    parts += ["### Scan and output folder (`bench/bench_wholescan.py`)", "",
              bench_wholescan.table(scan), ""]
    results += bench_wholescan.judge(scan)
    print(bench_wholescan.table(scan), flush=True)
    verdicts.report(results[-4:])

    print(f"== queries at {args.small:,} and {args.files:,} models", flush=True)
    table, found = bench_queries.bench(args.small, args.files, args.runs, args.cache)
    parts += ["### Queries (`bench/bench_queries.py`)", "",
              f"Each figure a median of {args.runs} fresh processes.", "", table, ""]
    results += found
    print(table, flush=True)
    verdicts.report(found)

    if not args.skip_service:
        print(f"== service over {args.files:,} models", flush=True)
        base = bench_service.prebuilt(args.files, args.cache)
        lats: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory(prefix="gnnr-bench-") as disk:
            for count in (ROUND_ROBIN, 1):
                lats.append(bench_service.bench_latency(Path(disk), args.saves, args.settle_ms,
                                                        count, base))
                verdicts.report(bench_service.latency_verdicts(lats[-1]))
            idle = bench_service.bench_idle(Path(disk), base)
        parts += ["### Service (`bench/bench_service.py`)", "",
                  *bench_service.lines_for(lats, idle), ""]
        print("\n".join(bench_service.lines_for(lats, idle)), flush=True)
        for lat in lats:
            results += bench_service.latency_verdicts(lat)
        memory = bench_service.idle_verdicts(idle, lats)
        results += memory
        verdicts.report(memory)
    return parts, results


def section(parts: list[str], results: list[verdicts.Verdict],
            command: str) -> str:
    """The body of the RESULTS.md section."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    missed = sum(1 for _line, met in results if not met)
    head = [f"Command: `{command}` ({when}; {_revision()}; 2 shared cores, figures move "
            "with load). Whole processes of the checkout's console scripts; the corpus is "
            f"`bench/gen_corpus.py` (seed 1). {len(results) - missed} of {len(results)} "
            "targets met.", ""]
    lines = [f"- {'met' if met else '**MISSED**'}: {line}" for line, met in results]
    return "\n".join([*head, *lines, "", *parts])


def main() -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="the large registry")
    parser.add_argument("--small", type=int, default=10, help="the small registry")
    parser.add_argument("--runs", type=int, default=7, help="runs of each query command")
    parser.add_argument("--saves", type=int, default=100, help="saves per latency run")
    parser.add_argument("--full", action="store_true",
                        help="the issue's 500 saves per latency run (overrides --saves)")
    parser.add_argument("--settle-ms", type=int, default=300)
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder for corpora and registries (bench/wholeproc.py)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.full:
        args.saves = 500
    parts, results = run_all(args)
    print(f"== issue 10: {sum(met for _l, met in results)} of {len(results)} targets met")
    verdicts.report(results)
    if not args.no_write:
        command = " ".join(["python bench/bench_issue10.py", *sys.argv[1:]])
        verdicts.replace_section(SECTION, section(parts, results, command))
    return verdicts.exit_status(results, check=args.check)


if __name__ == "__main__":
    sys.exit(main())

"""Whole-process scan benchmark (issue 10): first scan, unchanged rescan, peak RSS, folder size.

Usage: ``python bench/bench_wholescan.py [--files 10000] [--runs 1] [--cache DIR] [--check]``
(run it with the checkout's ``.venv/bin/python``: the ``gnn-registryd`` beside it is measured).

The corpus comes from ``bench/gen_corpus.py`` (seed 1, cached, see ``bench/wholeproc.py``).
Every figure is a fresh process, with a warm page cache:

- floor: read + SHA-256 of the same files, timed inside its process (``bench/bench_scan.py``'s
  floor child), median of at least 7 runs;
- first scan: ``gnn-registryd --scan --json`` into an empty output folder (registry,
  backups, per-model metadata files), ``--runs`` times; its time is the pass's own
  ``duration_ms`` from the JSON summary (so, like the floor, without interpreter start and
  imports; the process's wall time is shown too); peak RSS is the process's ``ru_maxrss``
  from ``wait4`` (the larger of its own and its largest worker process's; the target is
  judged on it), and beside it the largest sampled sum of PSS over the whole process tree
  (the scan's analysis workers included; sampled every 50 ms);
- unchanged rescan: the same command again over that registry, median of at least 7 runs;
- output folder: everything under the first scan's output folder, allocated on disk (as
  ``du``) and apparent (as ``du -b``), against the corpus folder measured the same way.

Targets (issue 10, for 10,000 files): first scan <= 12x floor, unchanged rescan <= 0.6x floor,
peak RSS of the first scan <= 60 MiB, output folder <= 1.5x the corpus (on disk, as ``du``
shows it). Prints a table and a ``met``/``MISSED`` line per target (judged at any size, the
line names it); ``--check`` exits 1 when one is missed. The last first scan's registry is
left in the cache for ``bench/bench_queries.py`` and ``bench/bench_service.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scan
import verdicts
import wholeproc

FIRST_VS_FLOOR = 12.0
RESCAN_VS_FLOOR = 0.6
FIRST_RSS_MIB = 60.0
FOLDER_VS_CORPUS = 1.5
QUICK_RUNS = 7


def bench(files: int, runs: int = 1, cache: Path | None = None) -> dict[str, Any]:
    """Measure; returns the figures (times in seconds, sizes in bytes)."""
    firsts: list[wholeproc.Scan] = []
    for _ in range(runs):
        src, out, first = wholeproc.registry(files, cache=cache, fresh=True)
        assert first is not None
        firsts.append(first)
    unused = wholeproc.cache_dir(cache) / "unused"
    bench_scan.child("floor", src, unused)  # warm the page cache
    floor = statistics.median(bench_scan.child("floor", src, unused)["seconds"]
                              for _ in range(QUICK_RUNS))
    rescans = [wholeproc.scan(src, out) for _ in range(QUICK_RUNS)]
    if any(r.summary.get("registry_written") for r in rescans):
        raise RuntimeError("an unchanged rescan wrote the registry")
    out_alloc, out_apparent = wholeproc.folder_bytes(out)
    src_alloc, src_apparent = wholeproc.folder_bytes(src)
    return {
        "files": files, "floor": floor,
        "first": statistics.median(f.engine_ms for f in firsts) / 1000,
        "first_wall": statistics.median(f.run.wall_s for f in firsts),
        "first_rss": max(f.run.maxrss for f in firsts),
        "first_tree": max(f.run.tree_pss for f in firsts),
        "rescan": statistics.median(r.engine_ms for r in rescans) / 1000,
        "rescan_wall": statistics.median(r.run.wall_s for r in rescans),
        "rescan_rss": max(r.run.maxrss for r in rescans),
        "out_alloc": out_alloc, "out_apparent": out_apparent,
        "corpus_alloc": src_alloc, "corpus_apparent": src_apparent,
    }


def judge(r: dict[str, Any]) -> list[verdicts.Verdict]:
    """Issue 10's scan targets as verdicts."""
    n = f"{r['files']:,} files"
    return [
        verdicts.at_most(f"first scan of {n} / floor:", r["first"] / r["floor"], FIRST_VS_FLOOR,
                         digits=1),
        verdicts.at_most(f"unchanged rescan of {n} / floor:", r["rescan"] / r["floor"],
                         RESCAN_VS_FLOOR),
        verdicts.at_most(f"first scan of {n}, peak RSS:", r["first_rss"] / wholeproc.MIB,
                         FIRST_RSS_MIB, unit=" MiB", digits=1),
        verdicts.at_most(f"output folder at {n} / corpus (on disk):",
                         r["out_alloc"] / r["corpus_alloc"], FOLDER_VS_CORPUS),
    ]


def table(r: dict[str, Any]) -> str:
    """Two Markdown tables: times with their ratios to the floor, and sizes."""
    mib, floor = wholeproc.MIB, r["floor"]
    return "\n".join([
        "| files | floor (read+sha256) | first scan (process wall) | ratio | peak RSS "
        "(process tree, PSS) | unchanged rescan (process wall) | ratio | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r['files']:,} | {floor:.3f} s | {r['first']:.2f} s ({r['first_wall']:.2f} s) "
        f"| {r['first'] / floor:.1f}x | {r['first_rss'] / mib:.0f} MiB "
        f"({r.get('first_tree', 0) / mib:.0f} MiB) "
        f"| {r['rescan']:.3f} s ({r['rescan_wall']:.2f} s) | {r['rescan'] / floor:.2f}x "
        f"| {r['rescan_rss'] / mib:.0f} MiB |",
        "",
        "| files | corpus on disk (apparent) | output folder on disk (apparent) | ratio |",
        "|---|---|---|---|",
        f"| {r['files']:,} | {r['corpus_alloc'] / 1e6:.1f} MB ({r['corpus_apparent'] / 1e6:.1f} "
        f"MB) | {r['out_alloc'] / 1e6:.1f} MB ({r['out_apparent'] / 1e6:.1f} MB) "
        f"| {r['out_alloc'] / r['corpus_alloc']:.2f}x "
        f"({r['out_apparent'] / r['corpus_apparent']:.2f}x) |",
    ])


def main() -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1, help="first scans (each a fresh folder)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder for corpora and registries")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    figures = bench(args.files, args.runs, args.cache)
    print(table(figures))
    results = judge(figures)
    verdicts.report(results)
    return verdicts.exit_status(results, check=args.check)


if __name__ == "__main__":
    sys.exit(main())

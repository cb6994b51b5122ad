"""Benchmark: parse + validate time for the corpus and for the largest file, against a floor.

Usage: ``python bench/bench_parse.py [--runs N] [--corpus DIR]``

Prints, for the whole corpus (every ``*.md`` under ``gnn_files/`` and ``extra/``) and for
``pymdp_scaling_N64_T100.md`` alone, the median, min and max of N runs (default 7) of

- parse + validate (``parse_bytes`` then ``validate``) on bytes already in memory;
- the floor: reading the same files from disk and hashing them with SHA-256 (what any
  registry pass must do anyway);

and the ratio parse+validate / floor. The corpus defaults to ``../shared/corpus`` beside the
checkout. The goal for N64 is a median parse + validate under 0.25 s.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.gnn import parse_bytes, validate  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
N64 = "gnn_files/pymdp_scaling_study/pymdp_scaling_N64_T100.md"


def timed(func: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``func`` (after one warm-up call)."""
    func()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def report(label: str, work: list[float], floor: list[float]) -> None:
    """Print median/min/max of both series and the ratio of the medians."""
    med_w, med_f = statistics.median(work), statistics.median(floor)
    print(f"{label}")
    print(f"  parse+validate  median {med_w * 1000:9.2f} ms   min {min(work) * 1000:9.2f} ms"
          f"   max {max(work) * 1000:9.2f} ms")
    print(f"  floor (read+sha256) median {med_f * 1000:5.2f} ms   min {min(floor) * 1000:9.2f} ms"
          f"   max {max(floor) * 1000:9.2f} ms")
    print(f"  ratio parse+validate / floor: {med_w / med_f:.1f}x")


def main() -> int:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    corpus: Path = args.corpus
    paths = sorted([*(corpus / "gnn_files").rglob("*.md"), *(corpus / "extra").rglob("*.md")])
    if not paths:
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 1
    blobs = [path.read_bytes() for path in paths]

    def parse_all() -> None:
        for data in blobs:
            validate(parse_bytes(data))

    def floor_all() -> None:
        for path in paths:
            hashlib.sha256(path.read_bytes()).hexdigest()

    total = sum(len(b) for b in blobs)
    print(f"corpus: {len(paths)} files, {total / 1e6:.2f} MB, {args.runs} runs each")
    report("whole corpus", timed(parse_all, args.runs), timed(floor_all, args.runs))

    big_path = corpus / N64
    big = big_path.read_bytes()
    report(f"N64 ({len(big) / 1e6:.2f} MB)",
           timed(lambda: validate(parse_bytes(big)), args.runs),
           timed(lambda: hashlib.sha256(big_path.read_bytes()).hexdigest(), args.runs))
    gnn = parse_bytes(big)
    validate_only = timed(lambda: validate(gnn), args.runs)
    median_us = statistics.median(validate_only) * 1e6
    print(f"  validate alone (already parsed) median {median_us:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: parse + validate time for the corpus and for the largest file, against a floor.

Usage: ``python bench/bench_parse.py [--runs N] [--corpus DIR] [--generated DIR]``

Prints, for the whole corpus (every ``*.md`` under ``gnn_files/`` and ``extra/``) and for
``pymdp_scaling_N64_T100.md`` alone, the median, min and max of N runs (default 7) of

- parse + validate (``parse_bytes`` then ``validate``) on bytes already in memory;
- the floor: reading the same files from disk and hashing them with SHA-256 (what any
  registry pass must do anyway);

and the ratio parse+validate / floor. The corpus defaults to ``../shared/corpus`` beside the
checkout. The goal for N64 is a median parse + validate under 0.25 s.

With ``--generated DIR`` (a tree from ``python bench/gen_corpus.py DIR 1000``) it also prints
the per-file cost of ``check_bytes`` + ``extract`` on small files, and of
:func:`registry.scanning.analysis.analyse_many` in one process and with one worker per CPU, against
the
read + SHA-256 floor.
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

from registry.gnn import check_bytes, extract, parse_bytes, validate  # noqa: E402
from registry.scanning.analysis import analyse_many, default_workers  # noqa: E402

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
    parser.add_argument("--generated", type=Path, default=None,
                        help="also time a tree from bench/gen_corpus.py, per file")
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
    if args.generated is not None:
        bench_generated(args.generated, args.runs)
    return 0


def bench_generated(folder: Path, runs: int) -> None:
    """Per-file cost of analysing small generated files, in one process and in the pool.

    Args:
        folder: a tree made by ``bench/gen_corpus.py`` (e.g. 1,000 files of 2-6 kB).
        runs: repetitions (the median and min are printed).
    """
    paths = sorted(folder.rglob("*.md"))
    if not paths:
        print(f"no *.md files under {folder}", file=sys.stderr)
        return
    blobs = [path.read_bytes() for path in paths]
    count = len(blobs)

    def check_extract() -> None:
        for data in blobs:
            result = check_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            for model in result.gnn.models:
                extract(result.gnn, model, sha256=digest)

    def floor() -> None:
        for path in paths:
            hashlib.sha256(path.read_bytes()).hexdigest()

    def pooled(workers: int) -> Callable[[], object]:
        return lambda: sum(1 for _ in analyse_many(
            (path.read_bytes() for path in paths), workers=workers))

    base = timed(floor, runs)
    print(f"generated: {count} files under {folder}, {sum(map(len, blobs)) / count / 1e3:.1f} kB "
          f"each on average, {runs} runs")
    print(f"  floor (read+sha256)            median {statistics.median(base) / count * 1e6:7.1f} "
          f"us/file")
    cores = default_workers(0)
    for label, func in (("check_bytes + extract", check_extract),
                        ("analyse_many, 1 process", pooled(1)),
                        (f"analyse_many, {cores} workers", pooled(cores))):
        work = timed(func, runs)
        med, ratio = statistics.median(work), statistics.median(work) / statistics.median(base)
        print(f"  {label:<30} median {med / count * 1e6:7.1f} us/file   min "
              f"{min(work) / count * 1e6:7.1f}   ratio to floor {ratio:.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())

"""Where one file's analysis spends its time: per-stage CPU cost and a cProfile listing.

Usage: ``python bench/profile_analysis.py [--files N] [--runs R] [--corpus DIR] [--top K]``

For ``N`` generated files (:func:`bench.gen_corpus.model_text`, seed 1, default 2,000) and
for the corpus (``../shared/corpus`` beside the checkout, skipped when absent) it prints the
CPU time per file (``time.process_time``, the best of ``R`` runs, so other processes on a
shared machine disturb it less than wall-clock time) of each stage of
:func:`registry.scanning.fileanalysis.analyse`, cumulatively: the non-GNN check, parse, parse +
validate, parse + validate + metadata, the whole ``analyse`` (with block hashes), and pickling
a result out of and into a worker. With ``--top K`` it then prints the ``K`` functions with
the most own time under :mod:`cProfile` (which inflates small functions: read it for the
ranking, not the figures).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pickle
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dump_analysis import DEFAULT_CORPUS, generated, tree  # noqa: E402
from registry.gnn import check_bytes, extract, parse_bytes  # noqa: E402
from registry.scanning.fileanalysis import analyse  # noqa: E402
from registry.scanning.names import looks_like_gnn  # noqa: E402


def best(func: Callable[[bytes], object], blobs: list[bytes], runs: int) -> float:
    """Best CPU seconds per file of ``func`` over ``blobs`` (one warm-up pass first)."""
    for data in blobs:
        func(data)
    times = []
    for _ in range(runs):
        start = time.process_time()
        for data in blobs:
            func(data)
        times.append(time.process_time() - start)
    return min(times) / len(blobs)


def _metadata(data: bytes) -> None:
    result = check_bytes(data)
    for model in result.gnn.models:
        extract(result.gnn, model, sha256="")


def _pickled(data: bytes) -> None:
    pickle.loads(pickle.dumps(analyse(data, skip_non_gnn=True),
                              protocol=pickle.HIGHEST_PROTOCOL))


STAGES: list[tuple[str, Callable[[bytes], object]]] = [
    ("non-GNN check (decode + headings)", lambda d: looks_like_gnn(d.decode("utf-8"))),
    ("parse", parse_bytes),
    ("parse + validate", check_bytes),
    ("parse + validate + metadata", _metadata),
    ("analyse (skip_non_gnn, hashes)", lambda d: analyse(d, skip_non_gnn=True)),
    ("analyse + pickle round trip", _pickled),
]


def report(label: str, blobs: list[bytes], runs: int) -> None:
    """Print the cumulative per-file cost of each stage."""
    print(f"{label}: {len(blobs)} files, {sum(map(len, blobs)) / len(blobs) / 1e3:.1f} kB "
          f"each on average, best of {runs} runs (CPU time)")
    for name, func in STAGES:
        print(f"  {name:<36} {best(func, blobs, runs) * 1e6:9.1f} us/file")


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--top", type=int, default=0, help="also print a cProfile listing")
    args = parser.parse_args()
    blobs = [data for _label, data in generated(args.files)]
    corpus = [data for _label, data in tree(args.corpus, "corpus")]
    gc.collect()
    gc.freeze()  # the inputs are not garbage: keep full collections from walking them
    report("generated", blobs, args.runs)
    if corpus:
        report("corpus", corpus, args.runs)
    if args.top:
        profile = cProfile.Profile()
        profile.enable()
        for data in blobs:
            analyse(data, skip_non_gnn=True)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

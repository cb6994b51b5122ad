"""Benchmark: parse + validate time of 1 MB adversarial inputs, against a normal 1 MB file.

Usage: ``python bench/bench_adversarial.py [--runs N] [--size BYTES]``

Each case is a valid GNN file (the test template) with one hostile line of about ``--size``
bytes (default 1 MiB) added: a huge StateSpaceBlock line, a connection line full of ``(``,
a literal of commas, a 1 MB variable name, 1 MB of ``-``/``>`` operators, a deeply nested
literal, and a million short lines. The baseline is a normal file of the same size made of
many ordinary models' worth of declarations and connections. Prints the median of N runs
(default 3) of ``check_bytes`` (parse + validate + the registry's metadata extraction) per
case, and its ratio to the baseline. Goal: every case well under one second.
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

from registry.gnn import check_bytes, extract  # noqa: E402
from tests.helpers.daemon import gnn_text  # noqa: E402


def _with_line(section: str, line: str) -> bytes:
    """The template with ``line`` added at the end of ``section``."""
    text = gnn_text("Adversarial")
    marker = f"## {section}\n"
    head, tail = text.split(marker, 1)
    return (head + marker + line + "\n" + tail).encode()


def cases(size: int) -> dict[str, bytes]:
    """Every adversarial input of about ``size`` bytes."""
    n = size
    normal_lines = []
    i = 0
    while sum(len(x) + 1 for x in normal_lines) < n:
        normal_lines.append(f"v{i}[3,4,type=float]  # variable {i}")
        normal_lines.append(f"v{i}>s")
        i += 1
    normal = gnn_text("Normal", extra_vars="\n".join(normal_lines[0::2]) + "\n",
                      extra_edges="\n".join(normal_lines[1::2]) + "\n").encode()
    deep = n // 2 - 2
    return {
        "baseline: normal 1 MB file": normal,
        "one huge StateSpaceBlock line": _with_line(
            "StateSpaceBlock", "big[" + ",".join(["3"] * (n // 2)) + ",type=float]"),
        "connection line full of (": _with_line("Connections", "(" * n),
        "literal of commas": _with_line("InitialParameterization", "B={" + "," * n + "}"),
        "1 MB variable name": _with_line("StateSpaceBlock", "x" * n + "[2,type=float]"),
        "1 MB of - and > operators": _with_line("Connections", "s" + "->" * (n // 2) + "o"),
        "nested literal (1 MB of brackets)": _with_line(
            "InitialParameterization", "B={" + "(" * deep + "1" + ")" * deep + "}"),
        "a million short lines": _with_line("ModelAnnotation", "x\n" * (n // 2)),
        "huge unclosed literal": _with_line("InitialParameterization", "B={" + "(1," * (n // 3)),
    }


def run_case(data: bytes) -> None:
    """What a registration costs: parse, validate, extract metadata for every model."""
    result = check_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    for model in result.gnn.models:
        extract(result.gnn, model, sha256=sha)


def timed(func: Callable[[], object], runs: int) -> float:
    """Median wall-clock seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=1 << 20)
    args = parser.parse_args()
    results = {}
    for name, data in cases(args.size).items():
        results[name] = (len(data), timed(lambda d=data: run_case(d), args.runs))  # type: ignore[misc]
    base = results["baseline: normal 1 MB file"][1]
    print(f"{'case':40} {'bytes':>9} {'median s':>9} {'x baseline':>10}")
    worst = 0.0
    for name, (size, seconds) in results.items():
        worst = max(worst, seconds)
        print(f"{name:40} {size:9d} {seconds:9.3f} {seconds / base:10.2f}")
    print(f"worst case: {worst:.3f} s ({'OK' if worst < 1.0 else 'OVER 1 s'})")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""The scan benchmark runs end to end on a tiny corpus and judges issue 3's targets right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import bench_scan  # noqa: E402 - a script beside the project, not a package


def row(n: int, *, first: float, rescan: float, peak_mib: float) -> dict[str, float]:
    return {"n": n, "floor": 1.0, "first": first, "rescan": rescan,
            "first_peak": peak_mib * 1024 * 1024, "rescan_peak": 1.0}


@pytest.mark.parametrize(("first", "rescan", "peak", "met"), [
    (4.0, 0.6, 44.9, [True, True, True]),
    (4.1, 0.61, 45.0, [False, False, False]),
    (71.2, 0.53, 30.2, [False, True, True]),
])
def test_targets_are_judged_on_the_10000_file_row(first, rescan, peak, met):
    rows = [row(1000, first=99, rescan=9, peak_mib=99),
            row(10_000, first=first, rescan=rescan, peak_mib=peak)]
    assert [ok for _line, ok in bench_scan.verdicts(rows)] == met
    assert bench_scan.verdicts(rows[:1]) == []


def test_benchmark_runs_on_a_tiny_corpus(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_scan.py"), "--sizes", "12", "--runs", "1",
         "--no-write", "--check", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 12 |")]
    assert len(rows) == 4  # the time and memory tables, printed per size and at the end
    assert "MISSED" not in proc.stdout  # no 10,000-file row: nothing is judged
    assert not (BENCH / "RESULTS.md").read_text(encoding="utf-8").count("| 12 |")

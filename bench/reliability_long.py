"""The long reliability runs whose figures are in docs/RELIABILITY.md.

Usage (from the checkout, with the venv's python)::

    python bench/reliability_long.py crash --rounds 1000       # random-instant SIGKILL loop
    python bench/reliability_long.py failpoints --rounds 20    # every named crash point, N times
    python bench/reliability_long.py fuzz --examples 100000 --mutated 10000
    python bench/reliability_long.py contention --seconds 60

Each prints its figures (rounds, acknowledged versions, violations, examples, wall time).
The exit status is 0 when no invariant was violated.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from registry.storage.failpoints import FAILPOINTS  # noqa: E402 - after the path is set
from tests.helpers.crashcheck import (  # noqa: E402
    ForkServer,
    check_scan_invariants,
    kill_rounds,
)


def crash(rounds: int, seed: int, max_delay: float) -> int:
    """Random-instant SIGKILL rounds of a scanning writer; invariants after each."""
    with tempfile.TemporaryDirectory(prefix="gnnr-crash-") as tmp:
        started = time.monotonic()
        counts = kill_rounds(Path(tmp) / "out", Path(tmp) / "models", rounds, seed=seed,
                             max_delay=max_delay)
        elapsed = time.monotonic() - started
    print(f"crash: rounds={counts['rounds']} acknowledged_versions={counts['acks']} "
          f"violations={counts['violations']} writer_problems={counts['writer_problems']} "
          f"seconds={elapsed:.1f} seed={seed} max_delay={max_delay}")
    for message in counts["messages"][:20]:
        print("  ", message)
    return 0 if counts["violations"] == 0 and counts["writer_problems"] == 0 else 1


def failpoints(rounds: int) -> int:
    """Every named failpoint ``rounds`` times, on one growing registry."""
    violations = 0
    acked = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gnnr-fp-") as tmp:
        out, models = Path(tmp) / "out", Path(tmp) / "models"
        server = ForkServer(out, models)
        acks = []
        round_no = 0
        try:
            for _ in range(rounds):
                for name in FAILPOINTS:
                    round_no += 1
                    warm = server.round(round_no, kill_after=0.05)
                    acks.extend(warm.acks)
                    round_no += 1
                    hit = server.round(round_no, kill_after=None, failpoint=name)
                    if hit.signal != 9 or hit.acks or hit.problems:
                        violations += 1
                        print("  unexpected:", name, hit)
                    found = check_scan_invariants(out, acks)
                    violations += len(found)
                    for message in found[:3]:
                        print("  ", name, message)
        finally:
            server.close()
        acked = len(acks)
    print(f"failpoints: kills={rounds * len(FAILPOINTS)} ({len(FAILPOINTS)} points x {rounds}) "
          f"acknowledged_versions={acked} violations={violations} "
          f"seconds={time.monotonic() - started:.1f}")
    return 0 if violations == 0 else 1


def run_pytest(test: str, env: dict[str, str]) -> tuple[int, float]:
    """Run one pytest target with ``env`` added; return (status, seconds)."""
    started = time.monotonic()
    status = subprocess.call(
        # --timeout=0: the suite's per-test timeout (300 s) is for CI; a long run takes longer.
        [sys.executable, "-m", "pytest", test, "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--timeout=0"],
        cwd=REPO, env={**os.environ, **env})
    return status, time.monotonic() - started


def fuzz(examples: int, mutated: int) -> int:
    """The fuzz properties with the long profile."""
    status, seconds = run_pytest("tests/test_fuzz.py", {
        "GNNR_FUZZ_EXAMPLES": str(examples), "GNNR_FUZZ_MUTATED_EXAMPLES": str(mutated)})
    print(f"fuzz: arbitrary_bytes={examples} token_soup={examples} mutated_gnn={mutated} "
          f"status={'pass' if status == 0 else 'FAIL'} seconds={seconds:.1f}")
    return status


def contention(seconds: float) -> int:
    """The contention test with a longer contention period."""
    status, took = run_pytest("tests/test_reliability_contention.py",
                              {"GNNR_CONTENTION_SECONDS": str(seconds)})
    print(f"contention: seconds={seconds} status={'pass' if status == 0 else 'FAIL'} "
          f"wall={took:.1f}")
    return status


def main() -> int:
    """Parse the sub-command and run it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("crash")
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--max-delay", type=float, default=0.2)
    p = sub.add_parser("failpoints")
    p.add_argument("--rounds", type=int, default=20)
    p = sub.add_parser("fuzz")
    p.add_argument("--examples", type=int, default=100_000)
    p.add_argument("--mutated", type=int, default=10_000)
    p = sub.add_parser("contention")
    p.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.what == "crash":
        return crash(args.rounds, args.seed, args.max_delay)
    if args.what == "failpoints":
        return failpoints(args.rounds)
    if args.what == "fuzz":
        return fuzz(args.examples, args.mutated)
    return contention(args.seconds)


if __name__ == "__main__":
    sys.exit(main())

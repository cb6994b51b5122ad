"""Query benchmark (issue 10): whole ``gnn-registry`` processes on a small and a large registry.

Usage: ``python bench/bench_queries.py [--small 10] [--large 10000] [--runs 7] [--cache DIR]
[--check]`` (run it with the checkout's ``.venv/bin/python``: the console scripts
beside it are the ones measured).

Both registries are first scans (``gnn-registryd --scan``) of corpora from
``bench/gen_corpus.py`` (seed 1), cached between runs (see ``bench/wholeproc.py``; the first
run at 10,000 files spends a few minutes building). The small corpus is a prefix of the large
one, so the model asked about is the same file in both: ``model_000007``.

Commands, each a fresh process, ``--runs`` times in interleaved rounds after one unmeasured
warm-up round (figures are medians; peak RSS is the child's own ``ru_maxrss`` from ``wait4``):
``show ID``, ``history ID``, ``search ID`` (the id as free text: selective, one hit),
``list`` and ``gnn-registry --help``.

Targets (issue 10): ``show``, ``history`` and ``search`` on the large registry at most 1.25x
the same command on the small one, wall time and peak RSS each; ``list`` of the large
registry at most 3x ``--help`` (wall time). Prints a table and a ``met``/``MISSED`` line per
target; ``--check`` exits 1 when one is missed. ``bench/bench_issue10.py`` runs it with the
other issue-10 benchmarks and writes the results to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verdicts
import wholeproc

QUERIES = ("show", "history", "search", "list")
SAME_AS_SMALL = ("show", "history", "search")
RATIO = 1.25
LIST_VS_HELP = 3.0


def model_id(small: int) -> str:
    """The model both registries hold (index 7, or the last of a smaller corpus)."""
    return f"model_{min(7, small - 1):06d}"


def argv(command: str, out: Path, mid: str) -> list[str]:
    """The command line of one query against the registry in ``out``."""
    tool = wholeproc.script("gnn-registry")
    if command == "help":
        return [tool, "--help"]
    args = [] if command == "list" else [mid]
    return [tool, command, "--output-dir", str(out), *args]


def _expect(command: str, result: wholeproc.Run, mid: str, size: int) -> None:
    """Fail loudly when a command did not do its job (a fast failure is no measurement)."""
    if result.code != 0:
        raise RuntimeError(f"{command} exited {result.code}: {result.stderr[-2000:]}")
    if command in SAME_AS_SMALL and mid not in result.stdout:
        raise RuntimeError(f"{command} did not print {mid}:\n{result.stdout[-2000:]}")
    others = [line for line in result.stdout.splitlines() if "model_" in line and mid not in line]
    if command == "search" and others:
        raise RuntimeError(f"search {mid} is not selective: it also found {others[:3]}")
    if command == "list" and result.stdout.count("\n") < size:
        raise RuntimeError(f"list printed fewer than {size} lines")


def measure(sizes: dict[str, int], outs: dict[str, Path], runs: int,
            ) -> dict[str, dict[str, float]]:
    """``{"<label> <command>": {"wall": seconds, "rss": bytes}}``, medians of ``runs``
    (``"help"`` for ``--help``)."""
    mid = model_id(sizes["small"])
    jobs = [("help", "", 0)] + [(cmd, label, sizes[label]) for label in sizes for cmd in QUERIES]
    samples: dict[str, list[wholeproc.Run]] = {}
    for round_no in range(runs + 1):
        for command, label, size in jobs:
            out = outs[label] if label else Path()
            result = wholeproc.run(argv(command, out, mid))
            _expect(command, result, mid, size)
            if round_no:  # round 0 warms the page cache
                samples.setdefault(f"{label} {command}".strip(), []).append(result)
    return {key: {"wall": statistics.median(r.wall_s for r in rs),
                  "rss": statistics.median(r.maxrss for r in rs)}
            for key, rs in samples.items()}


def judge(figures: dict[str, dict[str, float]], small: int, large: int,
          ) -> list[verdicts.Verdict]:
    """Issue 10's query targets as verdicts."""
    out: list[verdicts.Verdict] = []
    for cmd in SAME_AS_SMALL:
        big, little = figures[f"large {cmd}"], figures[f"small {cmd}"]
        for what, key in (("wall time", "wall"), ("peak RSS", "rss")):
            out.append(verdicts.at_most(
                f"`{cmd}` {what} at {large:,} models / at {small:,}:",
                big[key] / little[key], RATIO))
    out.append(verdicts.at_most(f"`list` of {large:,} models / `--help`:",
                                figures["large list"]["wall"] / figures["help"]["wall"],
                                LIST_VS_HELP))
    return out


def table(figures: dict[str, dict[str, float]], small: int, large: int) -> str:
    """A Markdown table: each command on both registries, with the ratios."""
    lines = [f"| command | {small:,} models: wall / peak RSS | {large:,} models: wall / peak RSS "
             "| ratio wall / RSS |", "|---|---|---|---|"]
    help_ = figures["help"]
    for cmd in QUERIES:
        a, b = figures[f"small {cmd}"], figures[f"large {cmd}"]
        lines.append(f"| `{cmd}` | {a['wall'] * 1000:.0f} ms / {a['rss'] / wholeproc.MIB:.0f} MiB "
                     f"| {b['wall'] * 1000:.0f} ms / {b['rss'] / wholeproc.MIB:.0f} MiB "
                     f"| {b['wall'] / a['wall']:.2f}x / {b['rss'] / a['rss']:.2f}x |")
    lines.append(f"| `--help` | {help_['wall'] * 1000:.0f} ms / "
                 f"{help_['rss'] / wholeproc.MIB:.0f} MiB | | |")
    return "\n".join(lines)


def bench(small: int, large: int, runs: int, cache: Path | None = None,
          ) -> tuple[str, list[verdicts.Verdict]]:
    """Build (or reuse) both registries, measure, and return the table and the verdicts."""
    sizes = {"small": small, "large": large}
    outs = {label: wholeproc.registry(n, cache=cache)[1] for label, n in sizes.items()}
    figures = measure(sizes, outs, runs)
    return table(figures, small, large), judge(figures, small, large)


def main() -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder for corpora and registries")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    text, results = bench(args.small, args.large, args.runs, args.cache)
    print(text)
    verdicts.report(results)
    return verdicts.exit_status(results, check=args.check)


if __name__ == "__main__":
    sys.exit(main())

"""What every benchmark here shares: target verdicts and the sections of bench/RESULTS.md.

A verdict is ``(line, met)``: the line says what was measured against which target, e.g.
``("first scan 7.1x floor (target <= 12x)", True)``. :func:`report` prints one line per verdict,
``met   `` or ``MISSED`` first, and :func:`exit_status` turns them into the exit status of a
``--check`` run (1 when one is missed). :func:`replace_section` rewrites one ``## Title``
section of RESULTS.md and keeps the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

Verdict = tuple[str, bool]
"""``(line, met)``: one target judged."""


def at_most(label: str, value: float, limit: float, *, unit: str = "x",
            digits: int = 2) -> Verdict:
    """``value <= limit``, worded as ``"{label} {value}{unit} (target <= {limit}{unit})"``."""
    return (f"{label} {value:.{digits}f}{unit} (target <= {limit:g}{unit})", value <= limit)


def report(verdicts: Iterable[Verdict]) -> bool:
    """Print a ``met``/``MISSED`` line per verdict; True when every target is met."""
    ok = True
    for line, met in verdicts:
        print(f"{'met   ' if met else 'MISSED'} {line}", flush=True)
        ok = ok and met
    return ok


def exit_status(verdicts: Iterable[Verdict], *, check: bool) -> int:
    """0, or 1 when ``check`` is set and some target is missed."""
    return 1 if check and not all(met for _line, met in verdicts) else 0


def replace_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Make ``## {title}`` followed by ``body`` a section of ``path``.

    The section runs from its heading line (matched exactly, so ``## Scan`` is not
    ``## Scan: where the time goes``) to the next ``## `` heading; other sections stay as
    they are. A missing section is appended; a missing file starts with ``# Benchmark results``.
    """
    heading = f"## {title}\n"
    section = heading + "\n" + body.strip("\n") + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if old.startswith(heading):
        start = 0
    else:
        found = old.find("\n" + heading)
        start = -1 if found == -1 else found + 1
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(heading) - 1)
        tail = "" if end == -1 else "\n" + old[end + 1:]
        new = old[:start] + section + tail
    path.write_text(new, encoding="utf-8")

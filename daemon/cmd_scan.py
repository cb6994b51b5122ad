"""``gnn-registryd --scan DIR...``: one reconcile pass, a summary, a meaningful exit status.

Output: on stdout either a human summary (one line of counts, the registry line, then one
line per blocking finding of each invalid file as ``path:line: CODE severity: message`` and
one line per unreadable, deferred or skipped file as ``path: STATUS: reason``) or, with
``--json``, the scan summary dict (:meth:`registry.scanning.scan.ScanReport.to_summary`, which lists
the same files under ``invalid``, ``errors``, ``deferred`` and ``skipped``). Everything
taken from file names and contents is escaped (:func:`daemon.common.printable`). A progress
bar is drawn on stderr only when stderr is a terminal and the scan has more than
:data:`PROGRESS_MIN` files.

Exit status: 0 every GNN file valid; 1 some file invalid, unreadable or still changing
(deferred; valid ones are still registered); 2 fatal (configuration, a directory that does
not exist, registry unreadable or unwritable, lock timeout), with a one-line message on
stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from daemon.common import print_json, printable, run_guarded
from registry.config import Config
from registry.scanning.scan import Scanner, ScanReport

PROGRESS_MIN = 200
"""Scans with more files than this show a progress bar (on a terminal)."""

_BAR_WIDTH = 30
_REDRAW_S = 0.1


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most every 0.1 s.

    Args:
        stream: where to draw (stderr).
        minimum: draw nothing for scans of at most this many files.
    """

    def __init__(self, stream: TextIO, *, minimum: int = PROGRESS_MIN) -> None:
        self.stream = stream
        self.minimum = minimum
        self.drawn = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        """Record progress: ``done`` of ``total`` files."""
        if total <= self.minimum:
            return
        now = time.monotonic()
        if done < total and now - self._last < _REDRAW_S:
            return
        self._last = now
        if done >= total:
            # Finished: erase it now, so the log lines written after the last file (the
            # per-file events, with -v) start on a clean line instead of running into it.
            self.close()
            return
        filled = _BAR_WIDTH * done // total
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        self.stream.write(f"\rscanning [{bar}] {done}/{total} files")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the bar (if one was drawn)."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def _blocking(findings: list[dict[str, object]], strict: bool) -> list[dict[str, object]]:
    chosen = [f for f in findings if strict or f.get("severity") == "error"]
    return chosen or findings


def format_report(report: ScanReport, *, strict: bool = False) -> str:
    """The human summary of a scan.

    Args:
        report: the scan's report.
        strict: list warnings of invalid files too (they blocked them).

    Returns:
        Text ending with a newline.
    """
    counts = report.counts
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    seconds = report.duration_ms / 1000.0
    lines = [
        f"scanned {report.processed_files} files in {seconds:.2f} s: "
        + (", ".join(parts) if parts else "nothing found"),
        f"registry: {report.registry_path} ({report.total_models} models"
        + ("" if report.wrote else ", not changed") + ")",
    ]
    # Paths and messages come from file names and contents: escaped to stay one line each.
    for outcome in report.invalid:
        for finding in _blocking(outcome.findings, strict):
            line = finding.get("line") or 0
            lines.append(printable(f"{outcome.path}:{line}: {finding.get('code')} "
                                   f"{finding.get('severity')}: {finding.get('message')}"))
    for outcome in report.notable():
        if outcome.status in ("error", "deferred", "skipped"):
            lines.append(printable(f"{outcome.path}: {outcome.status}: {outcome.message}"))
    return "\n".join(lines) + "\n"


def run_scan(config: Config, dirs: Sequence[Path], *, json_output: bool) -> int:
    """Reconcile ``dirs`` into the registry of ``config`` and print the outcome.

    Args:
        config: the settings (registry path, validation, versioning...).
        dirs: the directories (or single files) to scan.
        json_output: print the summary as JSON instead of text.

    Returns:
        0 all GNN files valid, 1 some invalid or unreadable, 2 fatal error.
    """

    def scan() -> int:
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        try:
            report = Scanner(config).reconcile(list(dirs), progress=bar)
        finally:
            if bar is not None:
                bar.close()
        if json_output:
            print_json(report.to_summary())
        else:
            sys.stdout.write(format_report(report, strict=config.strict))
        return report.exit_code

    return run_guarded(scan)


__all__ = ["PROGRESS_MIN", "ProgressBar", "format_report", "run_scan"]

"""What the output folder is made of, and what one backup costs (issue 10: a compact folder).

Usage: ``python bench/bench_outputs.py [--files 10000] [--cache DIR]`` (the checkout's
``.venv/bin/python``). Uses the registry that ``bench/bench_wholescan.py`` leaves in the cache
(built by a first scan when missing, see ``bench/wholeproc.py``) and prints:

- each part of the output folder, allocated on disk (as ``du``) and apparent (as ``du -b``):
  the database, the view, backups, the per-model folders (directories and metadata files),
  the last scan's summary, the rest; and what the per-model folders cost at their floor
  (one directory block and one file block each);
- one backup of its database (in a private temp folder): the old plain copy (online backup
  API + fsync) against the new compressed one (:func:`registry.storage.backups.make_backup`),
  their sizes and times, zlib levels 1 and 6, and the time to check a compressed backup
  (:func:`registry.storage.backups.read_info`: decompress + ``quick_check``). Times are the
  median of ``--runs`` runs with a warm page cache.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wholeproc

from registry.storage import backups, gzfiles

BLOCK = 4096


def parts(out: Path) -> list[tuple[str, int, int]]:
    """``(part, allocated, apparent)`` for each part of an output folder."""
    rows: dict[str, list[int]] = {}

    def add(part: str, st: os.stat_result) -> None:
        row = rows.setdefault(part, [0, 0, 0])
        row[0] += st.st_blocks * 512
        row[1] += st.st_size
        row[2] += 1

    add("output folder itself", os.lstat(out))
    with os.scandir(out) as entries:
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if entry.name == "backups" and entry.is_dir(follow_symlinks=False):
                for child in Path(entry.path).iterdir():
                    add("backups", child.lstat())
                add("backups", st)
            elif entry.is_dir(follow_symlinks=False):
                add("per-model folders", st)
                for child in Path(entry.path).iterdir():
                    add("per-model folders", child.lstat())
            elif ".sqlite3" in entry.name and not entry.name.endswith((".lock", ".owner")):
                add("database", st)  # with its -wal and -shm when there are any
            elif entry.name == "model_registry.json":
                add("view", st)
            elif entry.name == "model_registry_summary.json":
                add("last scan's summary", st)  # a first scan's lists every model
            else:
                add("other files", st)
    return [(part, row[0], row[1]) for part, row in rows.items()]


def timed(action: Callable[[], object], runs: int, reset: Callable[[], None]) -> float:
    """Median seconds of ``action`` over ``runs`` runs, ``reset`` before each."""
    times: list[float] = []
    for _ in range(runs):
        reset()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def backup_figures(database: Path, runs: int) -> list[tuple[str, float, int]]:
    """``(what, seconds, bytes)`` for the plain and compressed backups of ``database``."""
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-outputs-") as tmp:
        work = Path(tmp)
        folder = work / "backups"
        folder.mkdir()

        def clear() -> None:
            for path in folder.iterdir():
                path.unlink()

        conn = sqlite3.connect(database)
        try:
            plain = folder / "plain.sqlite3"
            seconds = timed(lambda: backups.copy_database(conn, plain), runs, clear)
            rows.append(("plain copy (online backup API + fsync)", seconds, plain.stat().st_size))
            raw = work / "raw.sqlite3"
            backups.copy_database(conn, raw, durable=False)
            for level in (1, 6):
                packed = folder / f"level{level}.gz"
                seconds = timed(lambda lv=level, pk=packed:  # type: ignore[misc]
                                gzfiles.compress_file(raw, pk, level=lv), runs, clear)
                rows.append((f"gzip level {level} of that copy (+ fsync)", seconds,
                             packed.stat().st_size))
            made: list[Path] = []
            seconds = timed(lambda: made.append(backups.make_backup(
                conn, folder, stem="model_registry", store_id="0" * 16, generation=1,
                keep=1)), runs, clear)
            rows.append((f"make_backup (level {gzfiles.LEVEL}, the shipped one)", seconds,
                         made[-1].stat().st_size))
            checked = timed(lambda: backups.read_info(made[-1]), runs, lambda: None)
            rows.append(("read_info of it (decompress + quick_check)", checked, 0))
        finally:
            conn.close()
    return rows


def main() -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    src, out, _first = wholeproc.registry(args.files, cache=args.cache)
    corpus_alloc, corpus_apparent = wholeproc.folder_bytes(src)
    print(f"corpus: {corpus_alloc / 1e6:.1f} MB on disk ({corpus_apparent / 1e6:.1f} MB apparent)")
    print("\n| part | on disk | apparent | x corpus (on disk) |\n|---|---|---|---|")
    total = 0
    for part, alloc, apparent in parts(out):
        total += alloc
        print(f"| {part} | {alloc / 1e6:.2f} MB | {apparent / 1e6:.2f} MB | "
              f"{alloc / corpus_alloc:.2f}x |")
    print(f"| total | {total / 1e6:.2f} MB | | {total / corpus_alloc:.2f}x |")
    models = sum(1 for entry in os.scandir(out) if entry.is_dir() and entry.name != "backups")
    floor = models * 2 * BLOCK
    print(f"\nper-model folders at their floor ({models:,} x (one {BLOCK} B directory block + "
          f"one {BLOCK} B file block)): {floor / 1e6:.2f} MB = "
          f"{floor / corpus_alloc:.2f}x the corpus on its own")
    print("\n| one backup | time | size |\n|---|---|---|")
    for what, seconds, size in backup_figures(out / "model_registry.sqlite3", args.runs):
        print(f"| {what} | {seconds:.2f} s | {size / 1e6:.2f} MB |" if size else
              f"| {what} | {seconds:.2f} s | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Whole-process measurement and cached inputs for the issue-10 benchmarks.

Everything here drives the console scripts (``gnn-registry``, ``gnn-registryd``) beside the
Python that runs the benchmark (run them with the checkout's ``.venv/bin/python``), never the
library, so the same benchmark runs on any storage engine behind those commands.

- :func:`run` starts one fresh process and returns its wall time and its peak RSS (from
  ``wait4``, for that child alone).
- :func:`corpus` and :func:`registry` keep generated corpora and scanned registries in a
  cache folder (default ``$TMPDIR/gnnr-bench-cache``), keyed by the generator's parameters and
  source; a registry also by a hash of the engine's source (``registry/``, ``daemon/``,
  ``pyproject.toml``), so a registry written by one engine is never reused by another.
  When a new registry is built, entries of other engines for the same corpus built more than
  an hour before are deleted (each holds the output folder of a whole scan).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gen_corpus  # a script beside this one (its folder is on sys.path)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MIB = 1024 * 1024
DONE = ".done"
"""Suffix of the sibling file that marks a complete cache entry."""


def script(name: str) -> str:
    """The console script ``name`` of the environment running the benchmark."""
    return str(Path(sys.executable).with_name(name))


def clean_env() -> dict[str, str]:
    """This environment without ``GNN_REGISTRY_*`` settings (they would change the runs)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GNN_REGISTRY")}


@dataclass(frozen=True)
class Run:
    """One finished process."""

    wall_s: float
    maxrss: int
    """Peak resident set size in bytes (``ru_maxrss`` of ``wait4``: the process's own peak,
    or that of its largest waited-for descendant if larger; never a sum)."""
    code: int
    stdout: str
    stderr: str
    tree_pss: int = 0
    """With ``sample_tree``: the largest sampled sum of PSS over the process and all its
    descendants (worker processes included, shared pages counted once), in bytes."""


def _descendants(pid: int) -> list[int]:
    """``pid`` and every live descendant (``/proc/PID/task/TID/children``)."""
    found, i = [pid], 0
    while i < len(found):
        top, i = found[i], i + 1
        try:
            for task in Path(f"/proc/{top}/task").iterdir():
                children = (task / "children").read_text(encoding="ascii")
                found.extend(int(child) for child in children.split())
        except OSError:
            continue
    return found


def _pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Samples the PSS of a process tree every ``interval`` seconds; keeps the largest sum."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, sum(_pss_bytes(p) for p in _descendants(self.pid)))


def run(argv: list[str], *, timeout: float = 900.0, sample_tree: bool = False) -> Run:
    """Run ``argv`` as a fresh process; wall time from spawn to reap, peak RSS from ``wait4``.

    Output goes to temporary files (a pipe read by this process would add its reading to the
    measured time). A process still alive after ``timeout`` seconds is killed. With
    ``sample_tree``, a thread also samples the PSS of the whole process tree every 50 ms
    (:attr:`Run.tree_pss`; a sample can miss a peak shorter than that).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=clean_env())
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        sampler = _TreeSampler(proc.pid)
        if sample_tree:
            sampler.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            sampler.done.set()
        wall = time.perf_counter() - start
        if sample_tree:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_maxrss * 1024, proc.returncode,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   sampler.peak)


def checked(argv: list[str], *, codes: tuple[int, ...] = (0,), sample_tree: bool = False,
            ) -> Run:
    """:func:`run`, raising with the command's stderr when its exit status is not in ``codes``."""
    result = run(argv, sample_tree=sample_tree)
    if result.code not in codes:
        raise RuntimeError(f"{' '.join(argv)} exited {result.code}:\n{result.stderr[-3000:]}")
    return result


def cache_dir(given: Path | None = None) -> Path:
    """The cache folder (created)."""
    path = given or Path(tempfile.gettempdir()) / "gnnr-bench-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest(paths: list[Path], base: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def engine_key() -> str:
    """A hash of the engine's source: the project's Python files and pyproject.toml."""
    files = [*REPO.glob("registry/**/*.py"), *REPO.glob("daemon/**/*.py"),
             REPO / "pyproject.toml"]
    return _digest([f for f in files if f.is_file()], REPO)


def _complete(path: Path) -> bool:
    return path.is_dir() and path.with_name(path.name + DONE).exists()


def _discard(path: Path) -> None:
    path.with_name(path.name + DONE).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def corpus(count: int, seed: int = 1, cache: Path | None = None) -> Path:
    """A generated corpus of ``count`` files (``bench/gen_corpus.py``), built once per key."""
    key = _digest([BENCH / "gen_corpus.py"], BENCH)
    path = cache_dir(cache) / f"corpus_n{count}_s{seed}_{key}"
    if not _complete(path):
        _discard(path)
        gen_corpus.generate(path, count, seed)
        path.with_name(path.name + DONE).touch()
    return path


def folder_bytes(path: Path) -> tuple[int, int]:
    """``(allocated, apparent)`` bytes of everything under ``path`` (like ``du -s`` and
    ``du -sb``), the folder itself and sub-folders included; hard links counted once."""
    seen: set[tuple[int, int]] = set()
    allocated = apparent = 0
    stack = [str(path)]
    while stack:
        top = stack.pop()
        st = os.lstat(top)
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            allocated += st.st_blocks * 512
            apparent += st.st_size
        with os.scandir(top) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    allocated += st.st_blocks * 512
                    apparent += st.st_size
    return allocated, apparent


@dataclass(frozen=True)
class Scan:
    """One ``gnn-registryd --scan --json`` process."""

    run: Run
    engine_ms: float
    """The pass's own ``duration_ms`` from the JSON summary (no interpreter start, no imports)."""
    summary: dict[str, object]


def scan(src: Path, out: Path, *, sample_tree: bool = False) -> Scan:
    """``gnn-registryd --scan --json --output-dir out src``; exit status 0 required."""
    result = checked([script("gnn-registryd"), "--scan", "--json", "--output-dir", str(out),
                      str(src)], sample_tree=sample_tree)
    start = result.stdout.find("{")
    summary = json.loads(result.stdout[start:]) if start != -1 else {}
    if "duration_ms" not in summary:
        raise RuntimeError(f"no JSON summary from --scan:\n{result.stdout[-2000:]}")
    return Scan(result, float(summary["duration_ms"]), summary)


def registry(count: int, seed: int = 1, cache: Path | None = None, *,
             fresh: bool = False) -> tuple[Path, Path, Scan | None]:
    """``(corpus, output_dir, first_scan)``: a registry of a generated corpus, cached.

    The registry is built by a first scan when no complete entry exists for this corpus and
    engine (``first_scan`` is then that scan's figures, else None); ``fresh`` rebuilds it.
    Callers must not change the cached output folder: copy it (:func:`copy_registry`).
    """
    src = corpus(count, seed, cache)
    prefix = f"registry_n{count}_s{seed}_{src.name.rsplit('_', 1)[1]}_"
    out = cache_dir(cache) / (prefix + engine_key())
    if _complete(out) and not fresh:
        return src, out, None
    stale = time.time() - 3600
    for old in cache_dir(cache).glob(prefix + "*"):
        marker = old.with_name(old.name + DONE)
        if old == out or (old.is_dir() and marker.exists() and marker.stat().st_mtime < stale):
            _discard(old)
    first = scan(src, out, sample_tree=True)
    out.with_name(out.name + DONE).touch()
    return src, out, first


def copy_registry(src: Path, dst: Path) -> Path:
    """A private copy of a registry output folder (the service writes to its copy)."""
    shutil.copytree(src, dst, symlinks=True)
    return dst

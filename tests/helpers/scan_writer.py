"""A fork server that runs scan-level registry writers for the crash tests and long runs.

Usage: ``python tests/helpers/scan_writer.py OUTPUT_DIR WATCH_DIR``, then one command per line
on stdin:

- ``fork ROUND [FAILPOINT]``: fork a writer child; the server answers ``pid ROUND N``. The
  child (with ``GNN_REGISTRY_FAILPOINT=FAILPOINT`` when given) loops for ever: it edits one of
  three GNN files under ``WATCH_DIR`` (new content each time), registers it through the public
  scan API (``Scanner.process_paths``, ``Scanner.register_file`` or ``Scanner.reconcile`` -- the
  ``--scan`` path -- in turn) and, once that call returned (the write is acknowledged), prints
  ``ack MODEL_ID VERSION SHA256`` flushed in one ``write``.
- ``reap PID``: wait for that child (after the supervisor SIGKILLed it, or after a failpoint
  killed it) and answer ``reaped PID SIGNAL``.
- ``quit``: exit.

Why a fork server: importing the project costs ~0.7 s on the test machine; forking an
already-initialised process costs milliseconds, so a hundred kill rounds fit in the normal
test suite. Every child is still a separate process killed by a real SIGKILL at a random
instant, with its own descriptors, locks and partial writes.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry.config import Config
from registry.scanning.scan import Scanner
from registry.storage import failpoints
from tests.helpers.daemon import gnn_text

FILES = ("alpha.md", "beta.md", "gamma.md")
"""The GNN files the writers edit (one model each)."""


def _say(line: str) -> None:
    """Write one line on stdout in a single ``write`` (atomic for pipes under PIPE_BUF)."""
    os.write(1, (line + "\n").encode())


def _content(name: str, round_no: int, step: int) -> str:
    """A new valid GNN text for ``name``: the horizon changes (a patch), sometimes a variable."""
    extra = "x[3,type=float]\n" if step % 4 == 3 else ""
    return gnn_text(f"Crash {Path(name).stem}", horizon=round_no * 100_000 + step + 1,
                    extra_vars=extra)


def writer_loop(output_dir: Path, watch_dir: Path, round_no: int) -> None:
    """Edit and register files until killed (runs in the forked child)."""
    # settle_ms=0: the writer registers each file right after writing it itself (no other
    # writer exists), and the kills must land on registry writes, not on settle waits.
    config = Config(output_dir=output_dir, directories=(watch_dir,), lock_timeout=30.0,
                    backup_count=5, settle_ms=0)
    step = 0
    while True:
        name = FILES[step % len(FILES)]
        path = watch_dir / name
        data = _content(name, round_no, step).encode()
        # Only this process writes the watched files, so the bytes registered are these.
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        scanner = Scanner(config, actor="crash-writer")
        mode = step % 3
        if mode == 0:
            outcomes = scanner.process_paths([path]).outcomes
        elif mode == 1:
            outcomes = [scanner.register_file(path)]
        else:
            outcomes = [o for o in scanner.reconcile([watch_dir]).outcomes
                        if o.path == str(path)]
        for outcome in outcomes:
            if outcome.status in ("registered", "updated") and outcome.model_ids:
                _say(f"ack {outcome.model_ids[0]} {outcome.version} {digest}")
            elif outcome.status != "unchanged":
                _say(f"bad {outcome.status} {outcome.path} {outcome.message}")
        step += 1


def _child(output_dir: Path, watch_dir: Path, round_no: int, failpoint: str | None) -> None:
    try:
        os.close(0)
        if failpoint:
            os.environ[failpoints.ENV_VAR] = failpoint
        else:
            os.environ.pop(failpoints.ENV_VAR, None)
        failpoints.reset()
        writer_loop(output_dir, watch_dir, round_no)
    except BaseException as exc:
        _say(f"crash {type(exc).__name__} {exc}")
    finally:
        os._exit(3)


def main() -> int:
    """Serve ``fork``/``reap``/``quit`` commands read from stdin."""
    output_dir, watch_dir = Path(sys.argv[1]), Path(sys.argv[2])
    watch_dir.mkdir(parents=True, exist_ok=True)
    # stdout carries only the protocol; log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    for raw in sys.stdin:
        words = raw.split()
        if not words:
            continue
        if words[0] == "fork":
            round_no = int(words[1])
            failpoint = words[2] if len(words) > 2 else None
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(output_dir, watch_dir, round_no, failpoint)
            _say(f"pid {round_no} {pid}")
        elif words[0] == "reap":
            pid = int(words[1])
            _, status = os.waitpid(pid, 0)
            _say(f"reaped {pid} {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1}")
        elif words[0] == "quit":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())

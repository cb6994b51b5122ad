"""A registry writer run as a subprocess by the storage crash and concurrency tests.

Usage: ``python tests/helpers/writer.py OUTPUT_DIR --prefix P [--count N]
[--barrier FILE] [--hold] [--lock-timeout S] [--backup-count N]``.

Each transaction adds one model ``<prefix>-<n>``; after the transaction returns (the write is
acknowledged) the id is printed on stdout and flushed, so a supervisor that SIGKILLs this
process knows exactly which models must survive. ``--count 0`` loops until killed.
``--hold`` opens one transaction, prints ``locked`` and waits for stdin to close.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry.config import Config
from registry.storage.store import RegistryStore
from tests.helpers import make_entry


def _wait_for(path: Path, deadline: float) -> None:
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"barrier {path} never appeared")
        time.sleep(0.002)


def main() -> int:
    """Parse arguments and write."""
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--prefix", default="m")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--barrier", type=Path)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--lock-timeout", type=float, default=60.0)
    parser.add_argument("--backup-count", type=int, default=10)
    args = parser.parse_args()
    # stdout carries only acknowledgements; the store's log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    store = RegistryStore(Config(output_dir=args.output_dir, lock_timeout=args.lock_timeout,
                                 backup_count=args.backup_count))
    if args.barrier is not None:
        _wait_for(args.barrier, time.monotonic() + 60)
    if args.hold:
        with store.transaction(actor="holder"):
            print("locked", flush=True)
            sys.stdin.read()
        return 0
    n = 0
    while args.count == 0 or n < args.count:
        model_id = f"{args.prefix}-{n}"
        with store.transaction(actor=f"writer-{args.prefix}") as doc:
            doc.models[model_id] = make_entry(model_id)
        print(model_id, flush=True)
        n += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

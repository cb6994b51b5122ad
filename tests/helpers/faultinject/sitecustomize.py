"""Loaded by a subprocess whose ``PYTHONPATH`` starts with this folder: switchable I/O faults.

``GNNR_FAULT_CONTROL`` names a control file. While it exists, its first line
``STEP ERRNO_NAME`` (for example ``db_commit EIO``; steps as in ``tests/helpers/faults.py``)
makes that one step of the registry write fail with that errno; delete the file and the fault
clears. ``STEP HOLD`` instead makes the step wait (before doing its real work) until the line
changes, with ``<control>.held`` present while a call is held. Nothing else in the process is
affected.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import Any

_CONTROL = os.environ.get("GNNR_FAULT_CONTROL")
_HOLD = -1


def _install() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from registry.storage import db  # noqa: PLC0415 - after the path is set
    from tests.helpers.faults import DB_COMMIT, MATCHERS, fail_commit  # noqa: PLC0415

    control = Path(str(_CONTROL))

    def active() -> tuple[str, int] | None:
        try:
            words = control.read_text().split()
        except OSError:
            return None
        if len(words) != 2:
            return None
        return words[0], _HOLD if words[1] == "HOLD" else getattr(errno, words[1])

    def hold(step: str) -> None:
        held = Path(f"{control}.held")
        held.write_text(step)
        try:
            while active() == (step, _HOLD):
                time.sleep(0.01)
        finally:
            held.unlink(missing_ok=True)

    def commit_code() -> int:
        fault = active()
        return fault[1] if fault is not None and fault[0] == DB_COMMIT else 0

    real_commit = db.commit

    def commit(conn: Any) -> None:
        code = commit_code()
        if code:
            fail_commit(code, lambda: True)(conn)
        real_commit(conn)

    db.commit = commit
    for func in sorted({name for name, _ in MATCHERS.values()}):
        real = getattr(os, func)

        def fake(*args: Any, _real: Any = real, _func: str = func, **kwargs: Any) -> Any:
            fault = active()
            if fault is not None and fault[0] in MATCHERS:
                step, code = fault
                name, match = MATCHERS[step]
                if name == _func and match(*args):
                    if code != _HOLD:
                        raise OSError(code, os.strerror(code))
                    hold(step)
            return _real(*args, **kwargs)

        setattr(os, func, fake)


if _CONTROL:
    _install()

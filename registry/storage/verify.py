"""``verify``: integrity of the database, its backups, the view and the metadata files.

Backups are checked whole (a compressed one is decompressed to a private temp file first);
each metadata file is read and compared with the database: missing, empty, unreadable or
stale (another version, state or count of history events) files are reported.

It only reads (a WAL reader sees the last commit and never blocks a writer), so it is safe
while the service and scanners write. The connection to the live database is opened
read-write all the same: after a writer was killed, the first connection must rebuild the
WAL index (``-shm``), which a ``mode=ro`` connection cannot do; nothing else is written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import StoreError
from registry.storage import backups as bk
from registry.storage import codec, db
from registry.storage.view import VIEW_SCHEMA_VERSION, read_view_header

if TYPE_CHECKING:
    from registry.storage.store import RegistryStore


Marks = dict[str, tuple[str, str, int]]
"""``model id -> (version, state, history events)``: what a metadata file must agree with."""


def _database(store: RegistryStore) -> tuple[list[str], int, str, Marks]:
    """Problems of the database, its generation, store id and each model's marks."""
    where = str(store.path)
    try:
        conn = db.open_raw(store.path, timeout=store.timeout, readonly=False)
    except sqlite3.Error as exc:
        return [f"{where}: cannot open: {exc}"], 0, "", {}
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        try:
            from registry.storage.schema import check_version  # noqa: PLC0415

            check_version(found, path=where)
        except StoreError as exc:
            return [f"{where}: {exc.args[0]}"], 0, "", {}
        problems = [f"{where}: integrity: {p}" for p in db.quick_check(conn)]
        problems += [f"{where}: foreign key: {row}" for row in
                     conn.execute("PRAGMA foreign_key_check").fetchall()]
        conn.execute("BEGIN")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        events = dict(conn.execute("SELECT model_id, count(*) FROM history GROUP BY model_id"))
        marks = {codec.dec(mid): (codec.dec(version), str(state), int(events.get(mid, 0)))
                 for mid, version, state in conn.execute(
                     "SELECT id, version, state FROM models ORDER BY id")}
        conn.execute("COMMIT")
        return problems, int(meta.get("generation", 0)), str(meta.get("store_id", "")), marks
    except (sqlite3.Error, ValueError) as exc:
        return [f"{where}: not a registry database: {exc}"], 0, "", {}
    finally:
        conn.close()


def _metadata_problem(path: Path, mark: tuple[str, str, int]) -> str:
    """What is wrong with one metadata file (``""``: nothing): missing, empty, unreadable,
    or stale (another version, state or number of history events than the database)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not data:
        return "is empty (the next write rewrites it)"
    try:
        body = json.loads(data)
        found = (body["version"], body["state"], len(body["history"]))
    except (ValueError, KeyError, TypeError) as exc:
        return f"is unreadable ({exc.__class__.__name__}: {exc}; the next change rewrites it)"
    if found != mark:
        return (f"is stale (version {found[0]}, {found[1]}, {found[2]} history events; "
                f"registry: version {mark[0]}, {mark[1]}, {mark[2]}; the model's next "
                "change rewrites it)")
    return ""


def verify(store: RegistryStore) -> list[str]:
    """See :meth:`registry.storage.store.RegistryStore.verify`."""
    problems: list[str] = []
    backups = store.backup_list()
    try:
        present = db.check_file(store.path)
    except StoreError as exc:
        return [f"{exc.args[0]} ({store.path})" + (f": {exc.reason}" if exc.reason else "")]
    generation, store_id, ids = 0, "", Marks()
    db_problems: list[str] = []
    if present:
        db_problems, generation, store_id, ids = _database(store)
        problems += db_problems
    elif backups:
        problems.append(f"{store.path}: missing, but {len(backups)} backup(s) exist "
                        "(run `gnn-registry restore --latest` to reinstate the newest)")
    for backup in backups:
        info = bk.read_info(backup.path, store.timeout)
        if info.problems and not backup.path.exists():
            continue  # rotated away by a writer since it was listed
        problems += [f"{backup.path}: {p}" for p in info.problems]
        if info.problems:
            continue
        if info.generation != backup.generation:
            problems.append(f"{backup.path}: holds generation {info.generation}, "
                            f"but its name says {backup.generation}")
        if present and info.store_id == store_id and backup.generation > generation:
            problems.append(f"{backup.path}: generation {backup.generation} is newer than "
                            f"the registry's ({generation})")
    if not present or db_problems:
        return problems
    head = read_view_header(store.view_path)
    if head is None:
        problems.append(f"{store.view_path}: the view is missing (the next write rewrites it)")
    elif head.get("schema_version") != VIEW_SCHEMA_VERSION or \
            head.get("generation") != generation or head.get("store_id") != store_id:
        problems.append(f"{store.view_path}: the view is stale (generation "
                        f"{head.get('generation')}, registry {generation}; the next write "
                        "rewrites it)")
    if store.config.write_model_metadata:
        for mid, mark in ids.items():
            try:
                meta = store.metadata_path(mid)
            except StoreError as exc:
                problems.append(f"model {mid!r}: {exc}")
                continue
            problem = _metadata_problem(meta, mark)
            if problem:
                problems.append(f"model {mid}: metadata file {meta} {problem}")
    return problems


__all__ = ["verify"]

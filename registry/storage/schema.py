"""The registry database's tables, its schema version and the forward-only migrations.

The schema version is SQLite's ``PRAGMA user_version``. :data:`MIGRATIONS` maps each version
to the statements that bring a database from the version before it; a new database runs
them all in one transaction. A database whose version is newer than :data:`SCHEMA_VERSION`
was written by a newer build and is refused (:func:`check_version`), never opened for writing.

Text that may hold lone surrogates (file paths from non-UTF-8 names) is stored as a BLOB of
its ``surrogatepass`` UTF-8 bytes, everything else as TEXT (see :mod:`registry.storage.codec`);
JSON columns hold compact JSON of nested values.
"""

from __future__ import annotations

import sqlite3

from registry.errors import StoreError

SCHEMA_VERSION = 2
"""The ``user_version`` this build writes and reads."""

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE roots (
    position INTEGER PRIMARY KEY,
    path     TEXT NOT NULL
);
CREATE TABLE models (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    path           TEXT NOT NULL,
    source_index   INTEGER NOT NULL DEFAULT 0,
    size           INTEGER NOT NULL,
    registered_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        TEXT NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state IN ('active', 'deprecated', 'archived', 'removed')),
    description    TEXT NOT NULL DEFAULT '',
    sha256         TEXT NOT NULL DEFAULT '',
    st_size        INTEGER,
    st_mtime_ns    INTEGER,
    st_inode       INTEGER,
    st_device      INTEGER,
    st_recorded_ns INTEGER,
    deleted        INTEGER NOT NULL DEFAULT 0,
    family         TEXT NOT NULL DEFAULT '',
    declares       INTEGER NOT NULL DEFAULT 0,
    findings       TEXT NOT NULL DEFAULT '[]',
    metadata       TEXT NOT NULL DEFAULT '{}',
    summary        TEXT NOT NULL
);
CREATE INDEX models_path ON models (path);
CREATE INDEX models_sha ON models (sha256);
CREATE INDEX models_declares ON models (declares) WHERE declares = 1;
CREATE INDEX models_family ON models (family);
CREATE TABLE versions (
    model_id      TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    path          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    change        TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    structure     TEXT,
    findings      TEXT NOT NULL,
    signature     TEXT NOT NULL DEFAULT '',
    pruned        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (model_id, seq),
    UNIQUE (model_id, version)
);
CREATE TABLE history (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    at       TEXT NOT NULL,
    event    TEXT NOT NULL,
    actor    TEXT NOT NULL,
    reason   TEXT,
    details  TEXT NOT NULL,
    UNIQUE (model_id, seq)
);
CREATE TABLE aliases (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    alias    TEXT NOT NULL,
    version  TEXT NOT NULL,
    PRIMARY KEY (model_id, alias)
) WITHOUT ROWID;
CREATE TABLE tags (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (model_id, position)
) WITHOUT ROWID;
CREATE INDEX tags_tag ON tags (tag);
CREATE TABLE relationships (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    type     TEXT NOT NULL CHECK (type <> 'same_family'),
    target   TEXT NOT NULL,
    PRIMARY KEY (model_id, position)
) WITHOUT ROWID;
CREATE INDEX relationships_target ON relationships (target);
"""

_V2 = """
DROP INDEX models_family;
CREATE INDEX models_live_family ON models (family, id) WHERE deleted = 0 AND state <> 'removed';
CREATE INDEX models_deleted ON models (deleted);
"""
"""Version 2: a model's ``same_family`` links are read from the first ids of its family, so
the family index holds the ids of live models in order (a short range read instead of a
scan of the whole family); ``deleted`` is indexed so the service's count of live models
per batch reads an index, not the table."""

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2}
"""``{version: script}``: the script takes a database from ``version - 1`` to ``version``."""


def check_version(found: int, *, path: str) -> None:
    """Refuse a database written by a newer build.

    Args:
        found: the database's ``user_version``.
        path: the database file (for the message).

    Raises:
        StoreError: ``found`` is above :data:`SCHEMA_VERSION`.
    """
    if found > SCHEMA_VERSION:
        msg = (f"the registry database has schema version {found}, newer than this "
               f"gnn-registry supports ({SCHEMA_VERSION}); upgrade gnn-registry to open it "
               "(the file was not changed)")
        raise StoreError(msg, path=path, reason="database from a newer version")


def migrate(conn: sqlite3.Connection, *, path: str) -> bool:
    """Bring the database of ``conn`` to :data:`SCHEMA_VERSION` (no-op when it is there).

    Runs in its own ``BEGIN IMMEDIATE`` transaction, so two processes creating the same
    database at once create it once.

    Args:
        conn: an open connection in autocommit mode.
        path: the database file (for messages).

    Returns:
        True when a migration ran.

    Raises:
        StoreError: the database is newer than this build.
    """
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    check_version(current, path=path)
    if current == SCHEMA_VERSION:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        check_version(current, path=path)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current < SCHEMA_VERSION


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_version", "migrate"]

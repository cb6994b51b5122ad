"""Curation and integrity commands: state, alias, tag, delete, verify, restore.

Changing commands run inside ``RegistryStore.transaction(actor=config.actor)`` (under the
lock, written atomically with a backup) and record every change in the model's history.
Exit status: 0, also for a request that already holds (tagging a tag the model has, a
state it is in, an alias already there, removing tags it lacks: a note on stderr says
nothing changed, and nothing is written or recorded); 1 when a model, version or alias does
not exist or a change is refused (``NotFoundError``/``TransitionError``), or when ``verify``
finds problems; 2 for usage, store or config failures.

``verify`` checks the registry file and its backups (``RegistryStore.verify()``) and then
re-reads every live model's source file (any state but ``removed``): a file that is missing,
unreadable or not a regular file, or whose content no longer hashes to the recorded sha256
(changed since it was registered) is a problem. For a model split from a multi-model file the
recorded hash covers its own block (preamble plus the model's lines, as the scanner hashes
it), so that block is hashed instead of the whole file.
"""

from __future__ import annotations

import argparse
import hashlib
import stat
import sys
from pathlib import Path
from typing import Any

from daemon.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    config_from_args,
    error,
    note,
    print_json,
    printable,
)
from registry.errors import NotFoundError
from registry.gnn import parse_bytes
from registry.gnn.parser import split_lines
from registry.model import lifecycle
from registry.model.query import get_entry, version_for
from registry.model.records import RegistryDoc
from registry.model.relations import current_metadata
from registry.storage.backups import read_info
from registry.storage.store import RegistryStore


def _out(text: str = "") -> None:
    """One line on stdout; names, paths and messages come from files: escaped."""
    sys.stdout.write(printable(text) + "\n")


def _store(args: argparse.Namespace) -> tuple[RegistryStore, str]:
    """The registry the command names; it must exist (nothing is created otherwise)."""
    config = config_from_args(args)
    store = RegistryStore(config)
    if not store.exists():
        msg = f"no registry at {printable(str(store.view_path))}"
        raise NotFoundError(msg)
    return store, config.actor


def _cmd_state(args: argparse.Namespace) -> int:
    store, actor = _store(args)
    with store.transaction(actor=actor) as doc:
        entry = get_entry(doc, args.model_id)
        previous = entry.state
        if previous != args.state:
            lifecycle.set_state(entry, args.state, actor=actor, reason=args.reason)
    if previous == args.state:
        # Idempotent: the request already holds. Nothing is written or recorded.
        return _already(args, f"{args.model_id} is already {previous}; nothing changed",
                        {"model_id": args.model_id, "from": previous, "to": args.state,
                         "changed": False})
    if args.json_output:
        print_json({"model_id": args.model_id, "from": previous, "to": args.state,
                    "changed": True})
    else:
        _out(printable(f"{args.model_id}: {previous} -> {args.state}"))
    return EXIT_OK


def _already(args: argparse.Namespace, message: str, result: dict[str, Any]) -> int:
    """A request that already holds: exit 0 with a note on stderr (and the JSON result)."""
    note(message)
    if args.json_output:
        print_json(result)
    return EXIT_OK


def _cmd_alias(args: argparse.Namespace) -> int:
    if args.remove == (args.version is not None):
        error("alias: give either VERSION or --remove")
        return EXIT_USAGE
    store, actor = _store(args)
    result: dict[str, Any] = {"model_id": args.model_id, "alias": args.name}
    with store.transaction(actor=actor) as doc:
        entry = get_entry(doc, args.model_id)
        if args.remove:
            result.update({"from": lifecycle.remove_alias(entry, args.name, actor=actor,
                                                          reason=args.reason), "to": None})
        else:
            lifecycle.check_alias_name(args.name)
            version = version_for(entry, args.version)
            if entry.aliases.get(args.name) == version:
                result.update({"from": version, "to": version, "changed": False})
            else:
                previous = lifecycle.move_alias(entry, args.name, version, actor=actor,
                                                reason=args.reason)
                result.update({"from": previous, "to": version})
    if result.get("changed") is False:
        return _already(args, f"{args.model_id}: alias {args.name} already points at "
                              f"{result['to']}; nothing changed", result)
    if args.json_output:
        print_json(result)
    elif result["to"] is None:
        _out(f"{args.model_id}: alias {args.name} removed (was {result['from']})")
    else:
        was = f" (was {result['from']})" if result["from"] else ""
        _out(f"{args.model_id}: alias {args.name} -> {result['to']}{was}")
    return EXIT_OK


def _cmd_tag(args: argparse.Namespace) -> int:
    store, actor = _store(args)
    with store.transaction(actor=actor) as doc:
        entry = get_entry(doc, args.model_id)
        present = [t for t in args.tags if t in entry.tags]
        holds = len(present) == len(args.tags) if not args.remove else not present
        changed: list[str] = []
        if args.remove and not holds:
            changed = lifecycle.remove_tags(entry, args.tags, actor=actor, reason=args.reason)
        elif not args.remove and not holds:
            changed = lifecycle.add_tags(entry, args.tags, actor=actor, reason=args.reason)
        tags = list(entry.tags)
    key = "removed" if args.remove else "added"
    if holds:
        what = "has none of" if args.remove else "already has"
        return _already(args, f"{args.model_id} {what} tag(s) {', '.join(args.tags)}; "
                              "nothing changed",
                        {"model_id": args.model_id, key: [], "tags": tags})
    if args.json_output:
        print_json({"model_id": args.model_id, key: changed, "tags": tags})
    else:
        _out(printable(f"{args.model_id}: {key} {', '.join(changed)}; "
                       f"tags now: {', '.join(tags) or '-'}"))
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace) -> int:
    store, actor = _store(args)
    with store.transaction(actor=actor) as doc:
        entry = lifecycle.delete_model(doc, args.model_id, actor=actor, reason=args.reason)
        version = entry.version
    if args.json_output:
        print_json({"model_id": args.model_id, "deleted": True, "version": version})
    else:
        _out(f"{args.model_id}: deleted (its id and version numbers stay reserved)")
    return EXIT_OK


def block_digest(data: bytes, index: int) -> str | None:
    """sha256 of model ``index``'s block of a multi-model file, as the scanner records it.

    The block is the file's preamble (the lines before the first model) plus the model's own
    lines, joined with newlines (:mod:`registry.scanning.register`). ``None`` when the file no
    longer
    holds that many models or is not text.
    """
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    models = parse_bytes(data).models
    if index >= len(models):
        return None
    lines = split_lines(text)
    block = lines[:models[0].first_line - 1] + lines[
        models[index].first_line - 1:models[index].last_line]
    return hashlib.sha256("\n".join(block).encode("utf-8")).hexdigest()


def file_problems(doc: RegistryDoc) -> tuple[int, list[str]]:
    """Re-hash every live model's source file against its recorded sha256.

    Returns:
        The number of files checked and one message per problem.
    """
    problems: list[str] = []
    checked = 0
    for entry in doc.models.listing():  # summary rows: no versions or history are read
        model_id = entry.model_id
        if entry.deleted or entry.state == "removed":
            continue
        checked += 1
        path = Path(entry.file_path)
        try:
            info = path.stat()
        except FileNotFoundError:
            problems.append(f"{model_id}: source file is missing: {path}")
            continue
        except OSError as exc:
            problems.append(f"{model_id}: cannot stat {path}: {exc.strerror or exc}")
            continue
        if not stat.S_ISREG(info.st_mode):
            # Never open a FIFO or device: reading could block or have side effects.
            problems.append(f"{model_id}: {path} is not a regular file")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{model_id}: cannot read {path}: {exc.strerror or exc}")
            continue
        recorded = entry.sha256 or (entry.current.sha256 if entry.current else "")
        digest = hashlib.sha256(data).hexdigest()
        if digest == recorded:
            continue
        if (int(current_metadata(entry).get("model_count") or 1) > 1
                and block_digest(data, entry.source_index) == recorded):
            continue  # a multi-model file: the recorded hash covers this model's block
        problems.append(f"{model_id}: {path} changed since version {entry.version} was "
                        f"registered (sha256 {digest[:12]}, recorded "
                        f"{recorded[:12] or 'none'})")
    return checked, problems


def _cmd_verify(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    problems = list(store.verify())
    doc = store.load()
    checked, file_issues = file_problems(doc)
    problems.extend(file_issues)
    if args.json_output:
        print_json({"ok": not problems, "registry": str(store.path), "models_checked": checked,
                    "problems": problems})
    elif problems:
        for problem in problems:
            _out(problem)
        _out(f"{len(problems)} problem(s) found")
    else:
        _out(f"ok: registry {store.path} and {checked} model file(s) verified")
    return EXIT_PROBLEMS if problems else EXIT_OK


def _cmd_restore_list(store: RegistryStore, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for backup in store.backup_list():
        info = read_info(backup.path, store.timeout)
        rows.append({"name": backup.path.name, "generation": backup.generation,
                     "time": backup.time, "models": info.models, "ok": not info.problems})
    if args.json_output:
        print_json(rows)
        return EXIT_OK
    if not rows:
        _out(f"no backups in {printable(str(store.backup_dir))}")
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    _out(f"{'BACKUP':<{width}}  GENERATION  TIME                  MODELS")
    for r in rows:
        flag = "" if r["ok"] else "  (invalid)"
        _out(f"{printable(r['name']):<{width}}  {r['generation']:>10}  {r['time']}  "
             f"{r['models']:>6}{flag}")
    return EXIT_OK


def _cmd_restore(args: argparse.Namespace) -> int:
    store, actor = _store(args)
    if args.list:
        return _cmd_restore_list(store, args)
    if args.backup is None and not args.latest and store.health() is None:
        msg = ("the registry is healthy: name the backup to restore (see `gnn-registry "
               "restore --list`) or pass --latest to restore the newest")
        raise NotFoundError(msg)
    # A bare name is looked up inside the backups folder by the store itself.
    doc = store.restore(Path(args.backup) if args.backup else None, actor=actor)
    chosen = store.restored_from
    live = sum(1 for _mid, row in doc.models.rows() if not row["deleted"])
    if args.json_output:
        print_json({"restored_from": str(chosen) if chosen else None,
                    "generation": doc.generation, "models": live})
    else:
        _out(f"restored {printable(str(store.path))} from {printable(str(chosen))} "
             f"(generation {doc.generation}, {live} model(s))")
    return EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the curation and integrity commands to ``gnn-registry``."""
    p = subparsers.add_parser("state", parents=[common], help="change a model's state")
    p.add_argument("model_id", metavar="ID")
    p.add_argument("state", metavar="STATE", help="active, deprecated or archived")
    p.add_argument("--reason", required=True, help="why (recorded in history)")
    p.set_defaults(handler=_cmd_state)

    p = subparsers.add_parser("alias", parents=[common],
                              help="point an alias at a version, or remove it")
    p.add_argument("model_id", metavar="ID")
    p.add_argument("name", metavar="NAME", help="alias name, e.g. production")
    p.add_argument("version", metavar="VERSION", nargs="?", default=None,
                   help="version number, another alias, or latest")
    p.add_argument("--remove", action="store_true", help="remove the alias")
    p.add_argument("--reason", default=None, help="why (recorded in history)")
    p.set_defaults(handler=_cmd_alias)

    p = subparsers.add_parser("tag", parents=[common], help="add or remove tags")
    p.add_argument("model_id", metavar="ID")
    p.add_argument("tags", metavar="TAG", nargs="+")
    p.add_argument("--remove", action="store_true", help="remove the tags instead")
    p.add_argument("--reason", default=None, help="why (recorded in history)")
    p.set_defaults(handler=_cmd_tag)

    p = subparsers.add_parser("delete", parents=[common],
                              help="delete a model (tombstone: id and versions stay reserved)")
    p.add_argument("model_id", metavar="ID")
    p.add_argument("--reason", default=None, help="why (recorded in history)")
    p.set_defaults(handler=_cmd_delete)

    p = subparsers.add_parser("verify", parents=[common],
                              help="check the registry, its backups and every model file")
    p.set_defaults(handler=_cmd_verify)

    p = subparsers.add_parser("restore", parents=[common],
                              help="restore the registry from a backup")
    p.add_argument("backup", metavar="BACKUP", nargs="?", default=None,
                   help="backup file or name in the backups folder")
    p.add_argument("--latest", action="store_true",
                   help="restore the newest valid backup (needed when the registry is healthy)")
    p.add_argument("--list", action="store_true",
                   help="list the backups (name, generation, time, model count)")
    p.set_defaults(handler=_cmd_restore)


__all__ = ["block_digest", "file_problems", "register"]

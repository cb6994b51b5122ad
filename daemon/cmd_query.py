"""Read-only registry commands: ``list``, ``show``, ``search``, ``history``, ``diff``, ``deps``.

They read the registry with ``RegistryStore.load()`` (no lock: the file is only ever
replaced atomically) and never write. Every command takes ``--json``. Exit status: 0, or 1
when a named model, version or alias does not exist (raised as ``NotFoundError`` and mapped
by :func:`daemon.common.run_guarded`); 2 for store or config failures.

Deleted (tombstoned) models are hidden from ``list``, ``search``, ``show``, ``diff`` and
``deps``; ``history`` still shows a deleted model's history (marked deleted), so the audit
trail of who deleted it and why stays readable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from daemon.common import EXIT_OK, config_from_args, print_json, printable
from registry.errors import NotFoundError
from registry.query import diff, get_entry, resolve, search
from registry.records import MODEL_STATES, ModelEntry, RegistryDoc, VersionRecord
from registry.relations import current_metadata, related
from registry.store import RegistryStore


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def load_doc(args: argparse.Namespace) -> RegistryDoc:
    """The registry named by the command's options, read without the lock.

    Raises:
        NotFoundError: there is no registry there (nothing is created).
    """
    store = RegistryStore(config_from_args(args))
    if not store.exists():
        msg = f"no registry at {printable(str(store.view_path))}"
        raise NotFoundError(msg)
    return store.load()


def aliases_text(entry: ModelEntry) -> str:
    """``name=version`` pairs, comma-separated, or ``-``."""
    return ",".join(f"{a}={v}" for a, v in sorted(entry.aliases.items())) or "-"


def summary(entry: ModelEntry) -> dict[str, Any]:
    """The JSON row of a model in ``list``/``search`` (state and aliases always present)."""
    meta = current_metadata(entry)
    return {
        "model_id": entry.model_id,
        "model_name": entry.model_name,
        "version": entry.version,
        "state": entry.state,
        "aliases": dict(sorted(entry.aliases.items())),
        "tags": list(entry.tags),
        "description": entry.description,
        "file_path": entry.file_path,
        "variables": meta.get("variables"),
        "connections": meta.get("connections"),
        "updated_at": entry.updated_at,
    }


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[str]:
    """Rows as aligned columns (the last column is not padded)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(widths[i]) for i, c in enumerate(row[:-1])]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return lines


def print_models(entries: Iterable[ModelEntry], *, json_output: bool) -> None:
    """Print models as a table (id, version, state, aliases, name) or a JSON list."""
    items = list(entries)
    if json_output:
        print_json([summary(e) for e in items])
        return
    if not items:
        _out("no models")
        return
    rows = [(e.model_id, e.version, e.state, aliases_text(e), e.model_name) for e in items]
    for line in table(rows, ("ID", "VERSION", "STATE", "ALIASES", "NAME")):
        _out(line)


def _cmd_list(args: argparse.Namespace) -> int:
    doc = load_doc(args)
    entries = doc.models.listing()  # summary rows only: no versions or history are read
    if args.state:
        entries = [e for e in entries if e.state == args.state]
    elif not args.all:
        entries = [e for e in entries if e.state != "removed"]
    print_models(entries, json_output=args.json_output)
    return EXIT_OK


def _cmd_search(args: argparse.Namespace) -> int:
    doc = load_doc(args)
    found = search(doc, args.query, any_match=args.any,
                   include_removed=not args.no_removed)
    print_models(found, json_output=args.json_output)
    return EXIT_OK


def _short(sha: str) -> str:
    return sha[:12] if sha else "-"


def _version_rows(entry: ModelEntry) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for rec in entry.versions:
        marks = [a for a, v in sorted(entry.aliases.items()) if v == rec.version]
        if rec.version == entry.version:
            marks.insert(0, "latest")
        if rec.pruned:
            marks.append("pruned")
        rows.append((rec.version, rec.change, rec.registered_at, _short(rec.sha256),
                     ",".join(marks)))
    return rows


def _field_lines(fields: Sequence[tuple[str, Any]]) -> list[str]:
    width = max(len(k) for k, _ in fields) + 1
    return [f"{(k + ':').ljust(width)} {v}" for k, v in fields if v not in (None, "")]


def _show_model(entry: ModelEntry) -> None:
    meta = current_metadata(entry)
    fields: list[tuple[str, Any]] = [
        ("model_id", entry.model_id), ("name", entry.model_name), ("state", entry.state),
        ("version", entry.version), ("aliases", aliases_text(entry)),
        ("tags", ", ".join(entry.tags) or "-"), ("file", entry.file_path),
        ("size", f"{entry.file_size_bytes} bytes"), ("registered", entry.registered_at),
        ("updated", entry.updated_at), ("description", entry.description),
        ("variables", meta.get("variables")), ("connections", meta.get("connections")),
    ]
    for line in _field_lines(fields):
        _out(line)
    _out("versions:")
    for line in table(_version_rows(entry), ("VERSION", "CHANGE", "REGISTERED", "SHA256",
                                             "MARKS")):
        _out("  " + line)
    if entry.relationships:
        _out("relationships:")
        for rel in entry.relationships:
            _out(f"  {rel.type} -> {rel.target}")
    if entry.findings:
        _out("findings of the latest attempt (not registered):")
        _print_findings(entry.findings)


def _print_findings(findings: Sequence[dict[str, Any]]) -> None:
    for finding in findings:
        _out(f"  {finding.get('line') or 0}: {finding.get('code')} {finding.get('severity')}: "
             f"{finding.get('message')}")


def _show_version(entry: ModelEntry, rec: VersionRecord) -> None:
    marks = [a for a, v in sorted(entry.aliases.items()) if v == rec.version]
    fields: list[tuple[str, Any]] = [
        ("model_id", entry.model_id), ("name", entry.model_name), ("state", entry.state),
        ("version", rec.version + (" (current)" if rec.version == entry.version else "")),
        ("aliases", ", ".join(marks) or "-"), ("change", rec.change),
        ("registered", rec.registered_at), ("sha256", rec.sha256), ("file", rec.file_path),
        ("size", f"{rec.file_size_bytes} bytes"),
        ("pruned", "yes (metadata dropped)" if rec.pruned else None),
        ("variables", rec.metadata.get("variables")),
        ("connections", rec.metadata.get("connections")),
    ]
    for line in _field_lines(fields):
        _out(line)
    if rec.findings:
        _out("findings:")
        _print_findings(rec.findings)


def _cmd_show(args: argparse.Namespace) -> int:
    doc = load_doc(args)
    entry, rec = resolve(doc, args.ref)
    whole_model = "@" not in args.ref or args.ref in doc.models
    if args.json_output:
        if whole_model:
            print_json(entry.to_dict())
        else:
            marks = [a for a, v in sorted(entry.aliases.items()) if v == rec.version]
            print_json({"model_id": entry.model_id, "model_name": entry.model_name,
                        "state": entry.state, "current": rec.version == entry.version,
                        "aliases": marks, **rec.to_dict()})
    elif whole_model:
        _show_model(entry)
    else:
        _show_version(entry, rec)
    return EXIT_OK


_EVENT_KEYS = ("at", "event", "actor", "reason")


def _details(event: dict[str, Any]) -> str:
    parts = []
    for key, value in event.items():
        if key in _EVENT_KEYS:
            continue
        if isinstance(value, list):
            text = ",".join(map(str, value)) or "-"
        else:
            text = "-" if value is None else str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _cmd_history(args: argparse.Namespace) -> int:
    doc = load_doc(args)
    entry = get_entry(doc, args.model_id, include_deleted=True)
    events = [h.to_dict() for h in entry.history]
    if args.json_output:
        print_json({"model_id": entry.model_id, "deleted": entry.deleted, "history": events})
        return EXIT_OK
    _out(f"history of {entry.model_id}" + (" (deleted)" if entry.deleted else ""))
    rows = [(e["at"], e["event"], e["actor"],
             _details(e) + (f' reason="{e["reason"]}"' if e.get("reason") else ""))
            for e in events]
    for line in table(rows, ("AT", "EVENT", "ACTOR", "DETAILS")):
        _out(line)
    return EXIT_OK


def _dims(info: dict[str, Any]) -> str:
    dims = info.get("dims")
    text = "[" + ",".join(map(str, dims)) + "]" if isinstance(dims, list) else "[?]"
    return text + (f" {info['type']}" if info.get("type") else "")


def _brief(value: Any) -> str:
    """A value for one diff line; long strings (hashes) are cut to stay readable."""
    text = repr(value)
    return text[:16] + "...'" if isinstance(value, str) and len(value) > 40 else text


def _print_diff(result: dict[str, Any]) -> None:
    head = f"{result['model_id']}: {result['from']} -> {result['to']}"
    if result["identical"]:
        _out(f"{head}: identical content (same sha256)")
        return
    _out(f"{head} (implied bump: {result['bump']})")
    var = result["variables"]
    lines = [f"  + {v['name']}{_dims(v)}" for v in var["added"]]
    lines += [f"  - {v['name']}{_dims(v)}" for v in var["removed"]]
    lines += [f"  ~ {v['name']}{_dims(v['old'])} -> {v['name']}{_dims(v['new'])}"
              for v in var["changed"]]
    edges = result["edges"]
    edge_lines = [f"  + {e['source']} {'>' if e['directed'] else '-'} {e['target']}"
                  for e in edges["added"]]
    edge_lines += [f"  - {e['source']} {'>' if e['directed'] else '-'} {e['target']}"
                   for e in edges["removed"]]
    params = result["parameters"]
    param_lines = [f"  {sign} {name}" for sign, key in (("+", "added"), ("-", "removed"),
                                                       ("~", "changed"))
                   for name in params[key]]
    other_lines = []
    for group in ("other", "metadata"):
        for key, change in result[group].items():
            if "old" in change and "new" in change and len(change) == 2:
                other_lines.append(f"  {key}: {_brief(change['old'])} -> {_brief(change['new'])}")
            else:
                other_lines.extend(f"  {key}.{sub}: {_brief(c['old'])} -> {_brief(c['new'])}"
                                   for sub, c in change.items())
    for title, block in (("variables", lines), ("edges", edge_lines),
                         ("parameters", param_lines), ("other changes", other_lines)):
        if block:
            _out(f"{title}:")
            for line in block:
                _out(line)
    if not (lines or edge_lines or param_lines or other_lines):
        _out("no structural or metadata change (text only)")


def _cmd_diff(args: argparse.Namespace) -> int:
    result = diff(load_doc(args), args.model_id, args.v1, args.v2)
    if args.json_output:
        print_json(result)
    else:
        _print_diff(result)
    return EXIT_OK


def _cmd_deps(args: argparse.Namespace) -> int:
    result = related(load_doc(args), args.model_id)
    if args.json_output:
        print_json(result)
        return EXIT_OK
    _out(f"relationships of {result['model_id']}")
    for title, key, arrow, end in (("outgoing", "outgoing", "->", "target"),
                                   ("incoming", "incoming", "<-", "source")):
        items = result[key]
        _out(f"{title}:" + ("" if items else " none"))
        rows = [(r["type"], f"{arrow} {r[end]}", f"({r['state']})" if r.get("state") else "")
                for r in items]
        for line in table(rows, ("TYPE", "MODEL", "STATE"))[1:] if rows else []:
            _out("  " + line)
    return EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the read-only query commands to ``gnn-registry``."""
    p = subparsers.add_parser("list", parents=[common], help="list registered models")
    p.add_argument("--state", choices=MODEL_STATES, default=None, help="only models in STATE")
    p.add_argument("--all", action="store_true",
                   help="include removed models (source file gone)")
    p.set_defaults(handler=_cmd_list)

    p = subparsers.add_parser("show", parents=[common], help="show a model or one version")
    p.add_argument("ref", metavar="ID[@VERSION]",
                   help="model id, optionally @VERSION, @ALIAS or @latest")
    p.set_defaults(handler=_cmd_show)

    p = subparsers.add_parser(
        "search", parents=[common], help="search models",
        description="Free text over id, name, description and tags, plus filters tag:, "
                    "state:, ontology:, var:, section:, alias:, id:, name:. Terms combine "
                    "with AND (OR with --any); quote phrases.")
    p.add_argument("query", nargs="*", metavar="QUERY", help="terms and field:value filters")
    p.add_argument("--any", action="store_true", help="match any term instead of all")
    p.add_argument("--no-removed", action="store_true",
                   help="leave out removed models (source file gone)")
    p.set_defaults(handler=_cmd_search)

    p = subparsers.add_parser("history", parents=[common], help="show a model's history")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(handler=_cmd_history)

    p = subparsers.add_parser("diff", parents=[common], help="compare two versions of a model")
    p.add_argument("model_id", metavar="ID")
    p.add_argument("v1", metavar="V1", help="old side: version, alias or latest")
    p.add_argument("v2", metavar="V2", help="new side: version, alias or latest")
    p.set_defaults(handler=_cmd_diff)

    p = subparsers.add_parser("deps", parents=[common],
                              help="relationships of a model, both directions")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(handler=_cmd_deps)


__all__ = ["aliases_text", "load_doc", "print_models", "register", "summary", "table"]

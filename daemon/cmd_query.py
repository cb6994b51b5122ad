"""Read-only registry commands: ``list``, ``show``, ``search``, ``history``, ``deps`` (and
``diff``, from :mod:`daemon.cmd_diff`).

Names, paths and messages come from files: every line is escaped (:func:`printable`), so
control and bidirectional characters or a newline in a file name cannot reach the terminal
or add a row. A ``search`` term ``word:value`` whose lower-case ``word`` is no filter is a
usage error (exit 2), never free text that silently matches nothing.

They read the registry with ``RegistryStore.load()`` (no lock: the file is only ever
replaced atomically) and never write. Every command takes ``--json``. Exit status: 0, or 1
when a named model, version or alias does not exist (raised as ``NotFoundError`` and mapped
by :func:`daemon.common.run_guarded`); 2 for store or config failures.

Deleted (tombstoned) models are hidden from ``list``, ``search``, ``show``, ``diff`` and
``deps``; ``history`` still shows a deleted model's history (marked deleted), so the audit
trail of who deleted it and why stays readable.

The ``--json`` output is built by the pure functions of :mod:`daemon.query_json`; the MCP
server's tools return the same JSON.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from daemon.cmd_diff import register_diff
from daemon.common import (
    EXIT_OK,
    EXIT_USAGE,
    error,
    load_doc,
    print_json,
    printable,
)
from daemon.query_json import history_json, list_entries, show_json, summary
from registry.model.query import resolve, search
from registry.model.records import MODEL_STATES, ModelEntry, VersionRecord
from registry.model.relations import current_metadata, related
from registry.model.search import FIELDS, parse_query


def _out(text: str = "") -> None:
    """One line on stdout; names, paths and messages come from files: escaped."""
    sys.stdout.write(printable(text) + "\n")


def state_text(entry: ModelEntry) -> str:
    """The state, marked when the file's latest content was refused (invalid): the current
    version is still the last valid one, but the file on disk no longer is."""
    return entry.state + (" (file invalid)" if entry.findings else "")


def aliases_text(entry: ModelEntry) -> str:
    """``name=version`` pairs, comma-separated, or ``-``."""
    return ",".join(f"{a}={v}" for a, v in sorted(entry.aliases.items())) or "-"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[str]:
    """Rows as aligned columns (the last column is not padded); cells escaped first."""
    rows = [[printable(str(c)) for c in row] for row in rows]
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
    rows = [(e.model_id, e.version, state_text(e), aliases_text(e), e.model_name)
            for e in items]
    for line in table(rows, ("ID", "VERSION", "STATE", "ALIASES", "NAME")):
        _out(line)


def _cmd_list(args: argparse.Namespace) -> int:
    entries = list_entries(load_doc(args), state=args.state, include_removed=args.all)
    print_models(entries, json_output=args.json_output)
    return EXIT_OK


_FILTER_LIKE = re.compile(r"([a-z_]+):\S")


def unknown_filter(terms: Sequence[str]) -> str | None:
    """A message for the first ``word:value`` term whose ``word`` is no filter, else ``None``.

    ``tags:foo`` or ``bogus:x`` would otherwise be free text that silently matches nothing.
    Only lower-case words count (``Example:`` stays free text).
    """
    for term in parse_query(terms):
        match = _FILTER_LIKE.match(term.value) if term.field is None else None
        if match is None:
            continue
        name = match.group(1)
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f"; did you mean {close[0]}:?" if close else ""
        return (f"unknown filter {name + ':'!r} in {term.value!r}{hint} "
                f"(filters: {', '.join(f + ':' for f in FIELDS)})")
    return None


def _cmd_search(args: argparse.Namespace) -> int:
    problem = unknown_filter(args.query)
    if problem is not None:
        error(problem)
        return EXIT_USAGE
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
        ("model_id", entry.model_id), ("name", entry.model_name), ("state", state_text(entry)),
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
    current = entry.current
    if current is not None and current.findings:
        _out(f"findings of version {current.version}:")
        _print_findings(current.findings)
    if entry.findings:
        _out("the file is invalid now; findings of its latest content (not registered):")
        _print_findings(entry.findings)


def _print_findings(findings: Sequence[dict[str, Any]]) -> None:
    for finding in findings:
        _out(f"  {finding.get('line') or 0}: {finding.get('code')} {finding.get('severity')}: "
             f"{finding.get('message')}")


def _show_version(entry: ModelEntry, rec: VersionRecord) -> None:
    marks = [a for a, v in sorted(entry.aliases.items()) if v == rec.version]
    fields: list[tuple[str, Any]] = [
        ("model_id", entry.model_id), ("name", entry.model_name), ("state", state_text(entry)),
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
    if args.json_output:
        print_json(show_json(doc, args.ref))
        return EXIT_OK
    entry, rec = resolve(doc, args.ref)
    if "@" not in args.ref or args.ref in doc.models:
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
    result = history_json(load_doc(args), args.model_id)
    if args.json_output:
        print_json(result)
        return EXIT_OK
    events = result["history"]
    _out(f"history of {result['model_id']}" + (" (deleted)" if result["deleted"] else ""))
    rows = [(e["at"], e["event"], e["actor"],
             _details(e) + (f' reason="{e["reason"]}"' if e.get("reason") else ""))
            for e in events]
    for line in table(rows, ("AT", "EVENT", "ACTOR", "DETAILS")):
        _out(line)
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Free text (a substring of id, name, description or a tag, any case) plus filters:
  tag:T       a tag, whole and exact (any case)     state:S    active, deprecated,
  alias:A     an alias the model carries                       archived or removed
  id:ID       the model id, whole and exact         name:TEXT  a substring of the name
  var:NAME    a variable of the current version     section:S  a section present
  ontology:T  an ontology term of the current version
Except for name:, filter values match whole values: id:pymdp finds only the
model "pymdp"; use a shell-style wildcard for more (id:pymdp*, tag:pomdp*,
var:s_f?). An unknown filter (tags:x) is an error, not free text. Terms combine with AND (OR with
--any); quote phrases (name:"coin flip").""")
    p.add_argument("query", nargs="*", metavar="QUERY", help="terms and field:value filters")
    p.add_argument("--any", action="store_true", help="match any term instead of all")
    p.add_argument("--no-removed", action="store_true",
                   help="leave out removed models (source file gone)")
    p.set_defaults(handler=_cmd_search)

    p = subparsers.add_parser("history", parents=[common], help="show a model's history")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(handler=_cmd_history)

    register_diff(subparsers, common)

    p = subparsers.add_parser("deps", parents=[common],
                              help="relationships of a model, both directions")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(handler=_cmd_deps)


__all__ = ["aliases_text", "print_models", "register", "state_text",
           "summary", "table", "unknown_filter"]

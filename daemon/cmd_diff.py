"""``gnn-registry diff``: what changed structurally between two versions of one model.

Takes ``ID V1 V2`` or, as ``show`` spells a version, ``ID@V1 ID@V2`` (``ID@V1 V2`` too); a
version is a number, an alias or ``latest``. Two different models, or another shape, is a
usage error (exit 2); a model or version that does not exist exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from daemon.common import EXIT_OK, EXIT_USAGE, error, load_doc, print_json, printable
from registry.model.query import diff


def _out(text: str = "") -> None:
    """One line on stdout; variable names and values come from files: escaped."""
    sys.stdout.write(printable(text) + "\n")


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


def diff_refs(refs: Sequence[str]) -> tuple[str, str, str]:
    """``(ID, V1, V2)`` from ``ID V1 V2``, ``ID@V1 ID@V2`` or ``ID@V1 V2`` (``show``'s syntax).

    Raises:
        ValueError: another shape, or two different models.
    """
    if len(refs) == 3:
        return refs[0], refs[1], refs[2]
    if len(refs) == 2:
        first_id, at, v1 = refs[0].rpartition("@")
        if at and first_id:
            second_id, at2, v2 = refs[1].rpartition("@")
            if not at2:
                return first_id, v1, refs[1]
            if second_id == first_id:
                return first_id, v1, v2
            msg = f"diff compares two versions of one model, not {second_id!r} and {first_id!r}"
            raise ValueError(msg)
    msg = "give ID V1 V2 or ID@V1 ID@V2"
    raise ValueError(msg)


def _cmd_diff(args: argparse.Namespace) -> int:
    try:
        model_id, v1, v2 = diff_refs(args.refs)
    except ValueError as exc:
        error(f"diff: {exc}")
        return EXIT_USAGE
    result = diff(load_doc(args), model_id, v1, v2)
    if args.json_output:
        print_json(result)
    else:
        _print_diff(result)
    return EXIT_OK


def register_diff(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``diff`` sub-command to ``gnn-registry``."""
    p = subparsers.add_parser(
        "diff", parents=[common], help="compare two versions of a model",
        usage="gnn-registry diff [options] ID V1 V2 | ID@V1 ID@V2",
        description="Compare two versions of one model: ID V1 V2, or ID@V1 ID@V2 as show "
                    "takes them. A version is a number, an alias or latest.")
    p.add_argument("refs", nargs="+", metavar="REF",
                   help="ID V1 V2, or ID@V1 ID@V2 (versions, aliases or latest)")
    p.set_defaults(handler=_cmd_diff)


__all__ = ["diff_refs", "register_diff"]

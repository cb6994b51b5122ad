"""One file's analysis: everything registration needs from its bytes, in one pure call.

:func:`analyse` parses and validates a file and describes each model: the findings, whether
they block, and per model its lines, the content hash registration uses (the whole file's
SHA-256 for a single-model file; for a multi-model file the hash of the text before the first
model followed by the model's lines, joined with ``\\n``), the findings that belong to it and
its metadata (:func:`registry.gnn.extract`, or the short seed form when metadata extraction is
off). The result is made of dataclasses, strings, numbers, lists and dicts only, so it crosses
a process boundary with :mod:`pickle` (:mod:`registry.scanning.analysis` runs it in worker
processes).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from registry.gnn import check_bytes, extract
from registry.gnn.codes import TOO_MANY_VARIABLES
from registry.gnn.model import Finding, GnnFile, GnnModel
from registry.gnn.parser import split_lines
from registry.scanning.names import looks_like_gnn


@dataclass(frozen=True, slots=True)
class ModelAnalysis:
    """One model of an analysed file.

    Attributes:
        index: position of the model in the file (0-based).
        first_line / last_line: the model's 1-based line range in the file.
        name: the ``## ModelName`` text, or ``None``.
        sha256: the content hash registration keys the model by (see the module docstring).
        metadata: the JSON-ready metadata stored on a version.
        findings: the findings that belong to this model, as JSON-ready dicts.
        pinned_id: the file's front matter ``id:`` (``None`` without one).
    """

    index: int
    first_line: int
    last_line: int
    name: str | None
    sha256: str
    metadata: dict[str, Any]
    findings: list[dict[str, Any]]
    pinned_id: str | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """The outcome of :func:`analyse` for one file.

    Attributes:
        sha256: hex SHA-256 of the file's bytes.
        findings: every finding, sorted by line.
        ok: no finding blocks (errors, or any finding when analysed with ``strict``).
        models: the models, in file order (empty when the file is not GNN).
        complete: false when analysis stopped early because the text is not a GNN model
            (``skip_non_gnn``); such a result has no findings and no models.
    """

    sha256: str
    findings: tuple[Finding, ...]
    ok: bool
    models: tuple[ModelAnalysis, ...] = ()
    complete: bool = True

    def finding_dicts(self) -> list[dict[str, Any]]:
        """Every finding as a JSON-ready dict (a new list on each call)."""
        return [f.to_dict() for f in self.findings]


def _model_findings(findings: tuple[Finding, ...], model: GnnModel,
                    count: int) -> list[dict[str, Any]]:
    """The findings of one model: all of them in a single-model file, else those on its lines
    (findings without a line belong to every model)."""
    if count == 1:
        return [f.to_dict() for f in findings]
    return [f.to_dict() for f in findings
            if f.line is None or model.first_line <= f.line <= model.last_line]


def seed_metadata(gnn: GnnFile, model: GnnModel, *, sha256: str) -> dict[str, Any]:
    """The short metadata kept when ``extract_metadata`` is off.

    Args:
        gnn: the parsed file.
        model: one of its models.
        sha256: the model's content hash.

    Returns:
        ``model_name``, ``variables``, ``connections``, ``declared_version``, ``tags``,
        ``description``, ``sha256``, ``model_index`` and ``model_count``.
    """
    front = gnn.front_matter
    tags = front.get("tags")
    description = front.get("description")
    version = front.get("version")
    return {
        "model_name": model.name,
        "variables": len({v.name for v in model.variables}),
        "connections": len({c.line for c in model.connections}),
        "declared_version": version if isinstance(version, str) else None,
        "tags": [tags] if isinstance(tags, str) else list(tags or []),
        "description": description if isinstance(description, str) else None,
        "sha256": sha256,
        "model_index": model.index,
        "model_count": len(gnn.models),
    }


def _block_hashes(data: bytes, gnn: GnnFile, digest: str) -> list[str]:
    """Each model's content hash (the file's own for a single model)."""
    models = gnn.models
    if len(models) <= 1:
        return [digest] * len(models)
    lines = split_lines(data.decode("utf-8").removeprefix("\ufeff"))
    head = lines[:models[0].first_line - 1]
    return [hashlib.sha256("\n".join(head + lines[m.first_line - 1:m.last_line])
                           .encode("utf-8")).hexdigest() for m in models]


def _looks_like_gnn(data: bytes) -> bool:
    """False only for UTF-8 text without NUL that has fewer than two GNN headings."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return True  # not text: validated, and reported as GNN-E100
    return "\x00" in text or looks_like_gnn(text)


DEFAULT_MAX_VARIABLES = 100_000
"""The ``max_variables`` setting's default: far above any real model (the upstream corpus's
largest has a few dozen), far below what exhausts memory (700,000 took 1.4 GB)."""

_STATE_SPACE = re.compile(rb"^[ \t]*##[ \t]*StateSpaceBlock[ \t]*\r?$", re.MULTILINE)
_HEADING = re.compile(rb"^[ \t]*##(?!#)", re.MULTILINE)  # "#" and "###" are comments
_DECLARATION = re.compile(rb"^[ \t]*[^\s#]", re.MULTILINE)


def too_many_variables(data: bytes, limit: int) -> Finding | None:
    """A ``GNN-E108`` finding when the StateSpaceBlock sections declare more than ``limit``
    variables, else ``None``.

    Counted on the bytes, before any parsing, without building a line list: every line of a
    ``## StateSpaceBlock`` section (up to the next heading) that is neither blank nor a
    comment is one declaration. The count stops at ``limit + 1``, so a huge file costs one
    pass over its bytes and no memory.

    Args:
        data: the file's bytes.
        limit: the most declarations allowed; 0 means no limit.
    """
    if limit <= 0:
        return None
    count = 0
    first_line: int | None = None
    for section in _STATE_SPACE.finditer(data):
        start = section.end()
        following = _HEADING.search(data, start)
        end = following.start() if following is not None else len(data)
        for line in _DECLARATION.finditer(data, start, end):
            count += 1
            if count > limit:
                first_line = data.count(b"\n", 0, line.start()) + 1
                message = (f"more than {limit:,} variable declarations (max_variables is "
                           f"{limit:,}); the file was not parsed. Split the model, or raise "
                           "max_variables if this is intended")
                return TOO_MANY_VARIABLES.at(first_line, message)
    return None


def analyse(data: bytes, *, strict: bool = False, metadata: bool = True,
            sha256: str | None = None, skip_non_gnn: bool = False,
            max_variables: int = DEFAULT_MAX_VARIABLES) -> Analysis:
    """Parse, validate and describe one file.

    Args:
        data: the file's bytes.
        strict: warnings block too (decides :attr:`Analysis.ok` only).
        metadata: give each model the full :func:`registry.gnn.extract` metadata (else the
            seed form of :func:`seed_metadata`).
        sha256: the bytes' hex SHA-256 when the caller already has it.
        skip_non_gnn: stop early (``complete=False``) when the text has fewer than two GNN
            section headings, as registration skips such files.
        max_variables: a file declaring more variables is refused with ``GNN-E108`` before
            it is parsed (:func:`too_many_variables`; 0: no limit).

    Returns:
        The analysis (never raises for bad input: problems are findings).
    """
    digest = sha256 if sha256 is not None else hashlib.sha256(data).hexdigest()
    if skip_non_gnn and not _looks_like_gnn(data):
        return Analysis(sha256=digest, findings=(), ok=False, complete=False)
    oversized = too_many_variables(data, max_variables)
    if oversized is not None:
        return Analysis(sha256=digest, findings=(oversized,), ok=False)
    result = check_bytes(data, strict=strict)
    gnn = result.gnn
    count = len(gnn.models)
    pinned = gnn.front_matter.get("id")
    models = []
    for model, block_sha in zip(gnn.models, _block_hashes(data, gnn, digest), strict=True):
        meta = (extract(gnn, model, sha256=block_sha) if metadata
                else seed_metadata(gnn, model, sha256=block_sha))
        models.append(ModelAnalysis(
            index=model.index, first_line=model.first_line, last_line=model.last_line,
            name=model.name, sha256=block_sha, metadata=meta,
            findings=_model_findings(result.findings, model, count),
            pinned_id=(pinned.strip() or None) if isinstance(pinned, str) else None))
    return Analysis(sha256=digest, findings=result.findings, ok=result.ok, models=tuple(models))


__all__ = ["DEFAULT_MAX_VARIABLES", "Analysis", "ModelAnalysis", "analyse", "seed_metadata",
           "too_many_variables"]

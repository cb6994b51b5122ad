"""Parse GNN text into :class:`~registry.gnn.model.GnnFile` values (no I/O: text in, values out).

Layout rules implemented here (see ``gnn-format.md`` sections 1-3):

- **Encoding.** :func:`parse_bytes` strips a UTF-8 BOM and reports ``GNN-E100`` (with the line
  of the first bad byte, and no models) for NUL bytes or invalid UTF-8. Line breaks may be LF,
  CRLF or a lone CR; a final newline is optional. Empty or whitespace-only text, or text with
  no ``## `` heading at all, is ``GNN-E101`` (no models).
- **Front matter.** See :mod:`registry.gnn.frontmatter`; it is removed before models are split.
- **Multi-model files.** After the front matter, a line of only ``---`` (three or more dashes,
  surrounding blanks allowed) separates models, each parsed on its own with file-absolute
  line numbers. To keep a Markdown horizontal rule inside prose from cutting a model in two,
  such a line separates models only when the file has front matter, or when the text before
  it (since the previous separator) has a ``## `` heading **and** the first heading after it
  names a section the current model already has (a new model repeats the section structure,
  normally starting again with ``## GNNSection``). Other ``---`` lines stay where they are.
  Blocks with nothing but blank lines are dropped.
- **Sections.** A line that, once stripped, starts with ``## `` is a heading; the rest of the
  line (trimmed) is the section name (``###`` is not a heading). A ``## `` or ``---`` line
  inside a closed Markdown code fence is neither a heading nor a separator
  (:mod:`registry.gnn.fences`): a README that shows GNN in code blocks has no heading. The
  preamble is every line before the first heading; a section's body is every line up to the
  next heading. Duplicate sections are all kept, in order.

The readers of the individual sections live in :mod:`registry.gnn.lines` and
:mod:`registry.gnn.params`. The parser reports syntax findings only (GNN-E100..E106, E005,
W110 for ModelParameters lines, W111 for Time lines); everything semantic is the validator's.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from registry.errors import GnnParseError
from registry.gnn import codes
from registry.gnn.fences import fenced_line_set
from registry.gnn.frontmatter import is_rule_line, read_front_matter
from registry.gnn.lines import (
    read_annotations,
    read_connections,
    read_model_parameters,
    read_state_space,
    read_time,
)
from registry.gnn.model import (
    Annotation,
    Connection,
    Finding,
    GnnFile,
    GnnModel,
    ModelParameter,
    Parameter,
    TimeItem,
    Variable,
    new_section,
)
from registry.gnn.params import read_parameters

_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Necessary conditions for heading_name / is_rule_line (\s is str.isspace, as strip uses).
_HEADING_START = re.compile(r"\s*## ").match
_LINE_START = {"## ": _HEADING_START, "---": re.compile(r"\s*---").match}
LONG_LINES = 256
"""Average line length from which :func:`_line_starts` tests each line's start instead of
searching the whole text (a file of 40 kB matrix rows)."""


def split_lines(text: str) -> list[str]:
    """Split ``text`` on LF, CRLF or lone CR; a final line break adds no empty line.

    Args:
        text: decoded text.

    Returns:
        The lines without their line breaks (``[]`` for empty text).
    """
    return _split(_lf_only(text))


def _lf_only(text: str) -> str:
    """``text`` with every CRLF and lone CR turned into LF."""
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _split(text: str) -> list[str]:
    """:func:`split_lines` of a text already passed through :func:`_lf_only`."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _line_starts(marker: str, text: str, lines: list[str], begin: int = 0) -> list[int]:
    """0-based indexes of the lines of ``text`` (LF only) that start, after blanks
    (``str.isspace``), with ``marker``.

    C-speed searches for the marker find the candidate lines (a heading or ``---`` line is
    a few among a hundred); each line is looked at once, from its first occurrence. When
    lines are long on average, only each line's start is tested instead.

    Args:
        marker: ``"## "`` or ``"---"``.
        text: the text.
        lines: its lines (:func:`_split` of ``text``).
        begin: the first line index to report.

    Returns:
        The matching line indexes ``>= begin``, in order.
    """
    if len(text) > LONG_LINES * len(lines):
        start = _LINE_START[marker]
        return [index for index in range(begin, len(lines)) if start(lines[index])]
    out: list[int] = []
    index = counted = 0
    find, rfind, count = text.find, text.rfind, text.count
    position = find(marker)
    while position >= 0:
        line_start = rfind("\n", 0, position) + 1
        if line_start == position or text[line_start:position].isspace():
            index += count("\n", counted, position)
            counted = position
            if index >= begin:
                out.append(index)
        line_end = find("\n", position)
        if line_end < 0:
            break
        position = find(marker, line_end + 1)
    return out


def heading_name(line: str) -> str | None:
    """The section name when ``line`` is a ``## Name`` heading, else ``None``."""
    text = line.strip()
    if text.startswith("## "):
        return text[3:].strip()
    return None


def heading_names(lines: list[str]) -> list[str | None]:
    """:func:`heading_name` of every line (computed once per file, shared by the passes).

    Args:
        lines: the file's lines.

    Returns:
        One entry per line: the section name, or ``None`` for a line that is no heading.
    """
    # A heading starts with "## " after blanks: that test reads only the start of a line (a
    # 40 kB matrix row is not scanned), and only matching lines are stripped.
    start = _HEADING_START
    return [heading_name(line) if start(line) else None for line in lines]


def _bad_byte_line(data: bytes, offset: int) -> int:
    """1-based line of byte ``offset`` (bytes before it are valid UTF-8)."""
    before = data[:offset].decode("utf-8", errors="replace")
    return len(_LINE_BREAK.findall(before)) + 1


def parse_bytes(data: bytes) -> GnnFile:
    """Parse the raw bytes of a GNN file.

    Args:
        data: the file content.

    Returns:
        The parsed file. Bad input never raises: it gives a file-level finding
        (``GNN-E100`` for NUL bytes or invalid UTF-8, ``GNN-E101`` for no GNN content).

    Raises:
        GnnParseError: ``data`` is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise GnnParseError(f"parse_bytes needs bytes, not {type(data).__name__}")
    raw = bytes(data)
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    nul = raw.find(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start if nul < 0 else min(nul, exc.start)
        what = "a NUL byte" if offset == nul else f"invalid UTF-8 byte 0x{raw[offset]:02x}"
        return _not_text(raw, offset, what)
    if nul >= 0:
        return _not_text(raw, nul, "a NUL byte")
    return parse_text(text)


def _not_text(raw: bytes, offset: int, what: str) -> GnnFile:
    line = _bad_byte_line(raw, offset)
    finding = codes.NOT_TEXT.at(line, f"the file is not UTF-8 text: {what} on line {line}")
    return GnnFile(models=(), findings=(finding,),
                   line_count=len(split_lines(raw.decode("utf-8", errors="replace"))))


def parse_text(text: str) -> GnnFile:
    """Parse GNN text.

    Args:
        text: the decoded file content (a leading BOM character is ignored).

    Returns:
        The parsed file, with the models, the front matter and file-level findings.

    Raises:
        GnnParseError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise GnnParseError(f"parse_text needs str, not {type(text).__name__}")
    text = _lf_only(text.removeprefix("\ufeff"))
    lines = _split(text)
    count = len(lines)
    nul = text.find("\x00")
    if nul >= 0:
        line = len(_LINE_BREAK.findall(text[:nul])) + 1
        finding = codes.NOT_TEXT.at(line, f"the file is not text: a NUL character on line {line}")
        return GnnFile(models=(), findings=(finding,), line_count=count)
    if not text or text.isspace():  # (text.strip() would copy the text)
        finding = codes.NOT_GNN.at(None, "the file is empty")
        return GnnFile(models=(), findings=(finding,), line_count=count)
    front = read_front_matter(lines)
    findings: list[Finding] = list(front.findings)
    start = front.body_start
    # Headings: the candidate lines found by one scan of the text, confirmed one by one.
    names: list[str | None] = [None] * count
    heads: list[int] = []
    fenced = fenced_line_set(lines, text)
    hidden = 0
    for index in _line_starts("## ", text, lines):
        name = heading_name(lines[index])
        if name is not None:
            if index in fenced:
                hidden += 1
                continue
            names[index] = name
            heads.append(index)
    if not heads or heads[-1] < start:
        why = ("its only '## ' headings are inside fenced code blocks (prose with GNN "
               "examples)" if hidden else "the file has no '## ' section heading")
        findings.append(codes.NOT_GNN.at(None, f"{why}, so it is not a GNN model"))
        return GnnFile(models=(), front_matter=front.values, front_matter_line=front.line,
                       findings=tuple(findings), line_count=count)
    rules = [index for index in _line_starts("---", text, lines, start)
             if is_rule_line(lines[index]) and index not in fenced]
    blocks = _split_models(lines, names, rules, start, split_all=front.line is not None)
    models = tuple(
        _parse_model(lines, names, heads, first, last, index=index)
        for index, (first, last) in enumerate(blocks)
    )
    return GnnFile(models=models, front_matter=front.values, front_matter_line=front.line,
                   findings=tuple(findings), line_count=count)


def _split_models(lines: list[str], names: list[str | None], rules: list[int], start: int,
                  *, split_all: bool) -> list[tuple[int, int]]:
    """Index ranges ``[first, last)`` of the model blocks (see the module docstring).

    ``rules`` are the indexes of the ``---`` lines from ``start`` on.
    """
    if not rules:
        blocks = [(start, len(lines))]
    else:
        blocks = _blocks_at_rules(names, rules, start, len(lines), split_all=split_all)
    return [(first, last) for first, last in blocks
            if any(line.strip() for line in lines[first:last])]


def _blocks_at_rules(names: list[str | None], rules: list[int], start: int, end: int, *,
                     split_all: bool) -> list[tuple[int, int]]:
    """The blocks cut at those ``rules`` that separate models."""
    # First heading after each rule (before the next rule), computed in one backward pass.
    next_heading: dict[int, str | None] = {}
    upcoming: str | None = None
    rule_set = set(rules)
    for i in range(end - 1, start - 1, -1):
        if i in rule_set:
            next_heading[i] = upcoming
            upcoming = None
        elif names[i] is not None:
            upcoming = names[i]
    blocks: list[tuple[int, int]] = []
    block_start = start
    seen: set[str] = set()
    scanned = start
    for rule in rules:
        if not split_all:
            seen.update(name for name in names[scanned:rule] if name is not None)
            scanned = rule + 1
            after = next_heading[rule]
            if after is None or after not in seen:
                continue
        blocks.append((block_start, rule))
        block_start = rule + 1
        seen = set()
    blocks.append((block_start, end))
    return blocks


def _parse_model(lines: list[str], names: list[str | None], all_heads: list[int], first: int,
                 last: int, *, index: int) -> GnnModel:
    """Parse the lines ``[first, last)`` (0-based) as one model (``all_heads``: the file's
    heading lines, sorted)."""
    heads = all_heads[bisect_left(all_heads, first):bisect_left(all_heads, last)]
    preamble = tuple(lines[first:heads[0] if heads else last])
    bounds = [*heads[1:], last] if heads else []
    sections = [new_section(names[head] or "", head + 1, tuple(lines[head + 1:stop]))
                for head, stop in zip(heads, bounds, strict=True)]
    variables: list[Variable] = []
    connections: list[Connection] = []
    parameters: list[Parameter] = []
    time: list[TimeItem] = []
    annotations: list[Annotation] = []
    model_parameters: list[ModelParameter] = []
    findings: list[Finding] = []
    for section in sections:
        name = section.name
        if name == "StateSpaceBlock":
            found_vars, found = read_state_space(section)
            variables += found_vars
        elif name == "Connections":
            found_edges, found = read_connections(section)
            connections += found_edges
        elif name == "InitialParameterization":
            found_params, found = read_parameters(section)
            parameters += found_params
        elif name == "Time":
            found_time, found = read_time(section)
            time += found_time
        elif name == "ActInfOntologyAnnotation":
            annotations += read_annotations(section)
            continue
        elif name == "ModelParameters":
            found_mp, found = read_model_parameters(section)
            model_parameters += found_mp
        else:
            continue
        findings += found
    if len(findings) > 1:
        findings.sort(key=lambda finding: finding.line or 0)
    return GnnModel(
        preamble=preamble,
        sections=tuple(sections),
        variables=tuple(variables),
        connections=tuple(connections),
        parameters=tuple(parameters),
        time=tuple(time),
        annotations=tuple(annotations),
        model_parameters=tuple(model_parameters),
        findings=tuple(findings),
        first_line=first + 1,
        last_line=max(first + 1, last),
        index=index,
    )


__all__ = ["heading_name", "heading_names", "parse_bytes", "parse_text", "split_lines"]

"""Render a parsed :class:`~registry.gnn.model.GnnFile` back to canonical GNN text.

The output is: the front matter (``key: value`` scalars, block lists), then each model (models
of a multi-model file are separated by ``---`` lines, and such a file always gets a front
matter block, empty if need be, so that every separator splits when the text is read again),
each made of its preamble and its sections in order, with one blank line before each heading
(unless a blank line or a ``---`` line is already there).

StateSpaceBlock, Connections, InitialParameterization, Time, ActInfOntologyAnnotation and
ModelParameters are rebuilt from the parsed values that came from that section (matched by
line number, so duplicate sections keep their own content): one declaration, one expanded edge,
one statement, one item per line; comments and unreadable lines are not kept, except a
declaration's inline comment. Every other section, and the preamble, is written exactly as it
was read.

For the corpus files, parsing the rendered text gives the same values as the first parse. In
general the text is canonical after one round trip: with ``g = parse(render(f))``,
``parse(render(g))`` equals ``g`` apart from line numbers and ``render`` of both is the same
text (a property test checks this). One round trip may change a file: lines the parser could
not read are dropped, and in a multi-model file a ``---`` line inside prose becomes a separator
once the front matter is added.
"""

from __future__ import annotations

from registry.gnn.frontmatter import is_rule_line
from registry.gnn.model import GnnFile, GnnModel, Section, Variable

_STRUCTURED = frozenset({
    "ActInfOntologyAnnotation",
    "Connections",
    "InitialParameterization",
    "ModelParameters",
    "StateSpaceBlock",
    "Time",
})


def _scalar(value: str) -> str:
    """A front-matter scalar, quoted when reading it back plain would change it."""
    needs_quotes = (
        not value
        or value != value.strip()
        or value[0] in "\"'[-#"
        or " #" in value
    )
    if not needs_quotes:
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


def render_front_matter(values: dict[str, str | list[str]]) -> list[str]:
    """Lines of a front matter block (``---`` ... ``---``).

    Args:
        values: keys and their ``str`` or ``list[str]`` values.

    Returns:
        The lines, delimiters included.
    """
    lines = ["---"]
    for key, value in values.items():
        if isinstance(value, list):
            lines.append(f"{key}:" if value else f"{key}: []")
            lines.extend(f"  - {_scalar(item)}" for item in value)
        else:
            lines.append(f"{key}: {_scalar(value)}" if value else f"{key}:")
    lines.append("---")
    return lines


def _variable(var: Variable) -> str:
    entries = [str(dim) for dim in var.dims]
    if var.type is not None:
        entries.append(f"type={var.type}")
    if var.default is not None:
        entries.append(f"default={var.default}")
    text = f"{var.name}[{','.join(entries)}]"
    return f"{text}  # {var.comment}" if var.comment else text


def _section_lines(model: GnnModel, section: Section, end: int) -> list[str]:
    """The body of ``section`` (heading on line ``section.line``, next heading at ``end``)."""

    def mine(line: int) -> bool:
        return section.line < line < end

    name = section.name
    if name == "StateSpaceBlock":
        return [_variable(var) for var in model.variables if mine(var.line)]
    if name == "Connections":
        return [
            f"{edge.source}{edge.operator}{edge.target}"
            + (f":{edge.label}" if edge.label else "")
            for edge in model.connections
            if mine(edge.line)
        ]
    if name == "InitialParameterization":
        return [f"{p.name}={p.raw}" for p in model.parameters if mine(p.line)]
    if name == "Time":
        return [
            item.key if item.value is None else f"{item.key}={item.value}"
            for item in model.time
            if mine(item.line)
        ]
    if name == "ActInfOntologyAnnotation":
        return [f"{a.name}={a.term}" for a in model.annotations if mine(a.line)]
    return [f"{p.key}: {p.value}" for p in model.model_parameters if mine(p.line)]


def render_model(model: GnnModel) -> list[str]:
    """Lines of one model: preamble, then each section.

    Args:
        model: a parsed model.

    Returns:
        The lines (no line breaks).
    """
    lines = list(model.preamble)
    sections = model.sections
    for pos, section in enumerate(sections):
        if lines and lines[-1].strip() and not is_rule_line(lines[-1]):
            # One blank line before each heading, unless one is there already. Never after
            # a '---': the heading must start the next block directly.
            lines.append("")
        end = sections[pos + 1].line if pos + 1 < len(sections) else model.last_line + 1
        lines.append(f"## {section.name}")
        if section.name in _STRUCTURED:
            lines.extend(_section_lines(model, section, end))
        else:
            lines.extend(section.body)
    return lines


def render(gnn: GnnFile) -> str:
    """Canonical GNN text for a parsed file.

    Args:
        gnn: a parsed file (from :func:`registry.gnn.parser.parse_text` or built by hand).

    Returns:
        The text, ending with one newline (empty for a file with no models and no front
        matter).
    """
    lines: list[str] = []
    if gnn.front_matter or gnn.front_matter_line is not None or len(gnn.models) > 1:
        lines.extend(render_front_matter(gnn.front_matter))
    for index, model in enumerate(gnn.models):
        if index:
            lines.append("---")
        lines.extend(render_model(model))
    return "\n".join(lines) + "\n" if lines else ""


__all__ = ["render", "render_front_matter", "render_model"]

"""Hypothesis strategies for GNN texts: names, literals, sections, front matter, whole files."""

from __future__ import annotations

from hypothesis import strategies as st

GREEK = "πγωβμΣτΠ"
ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

names = st.builds(
    lambda first, rest, plus: first + rest + plus,
    st.sampled_from(ASCII_LETTERS + GREEK + "_"),
    st.text(alphabet=ASCII_LETTERS + "0123456789_" + GREEK, max_size=6),
    st.sampled_from(["", "", "", "+1", "'"]),
)
"""GNN variable names, including Greek letters, ``s_t+1``-style and primed names."""

numbers = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(repr),
    st.integers(min_value=-999, max_value=999).map(str),
    st.sampled_from(["0.5", "-0.25", ".5", "1.", "+1", "1e-3", "2E+2", "-.75", "0.925000"]),
)
"""Number spellings the literal grammar accepts."""

_blank = st.sampled_from(["", "", " ", "\n  ", "\t", "\n"])


def _group(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda kind, items, trailing, pads: (
            kind[0] + pads[0]
            + ("," + pads[1]).join(items)
            + ("," if trailing and items else "")
            + pads[2] + kind[1]
        ),
        st.sampled_from(["{}", "()", "[]"]),
        st.lists(children, max_size=4),
        st.booleans(),
        st.tuples(_blank, _blank, _blank),
    )


literals = st.recursive(numbers, _group, max_leaves=20)
"""Literal texts: numbers, ``{...}``/``[...]``/``(...)`` groups, trailing commas, blanks and
newlines."""

regular_literals = st.builds(
    lambda rows, cols, data: "{\n" + ",\n".join(
        "  (" + ", ".join(data[r * cols:(r + 1) * cols]) + ")" for r in range(rows)) + "\n}",
    st.integers(1, 4),
    st.integers(2, 4),
    st.lists(numbers, min_size=16, max_size=16),
)
"""Matrix literals in the corpus layout: ``{`` then one ``(row)`` per line then ``}``."""

bracket_literals = st.builds(
    lambda rows, cols, data, indent, comment: "[" + comment + "\n" + ",\n".join(
        indent + "[" + ", ".join(data[r * cols:(r + 1) * cols]) + "]" for r in range(rows))
    + "\n]",
    st.integers(1, 4),
    st.integers(1, 4),
    st.lists(numbers, min_size=16, max_size=16),
    st.sampled_from(["", "  ", "\t"]),
    st.sampled_from(["", "  # rows"]),
)
"""Multi-line bracket literals of the upstream templates: ``[`` then ``[row],`` lines then
``]`` (issue 13, item 1)."""

dims = st.lists(st.one_of(st.integers(1, 9).map(str), names), min_size=1, max_size=3)
types = st.sampled_from(["float", "int", "categorical", "bool"])
comment = st.sampled_from(["", "", "# likelihood", "### a note", "# π policy"])


def _decl(name: str, dimensions: list[str], typ: str | None, note: str, comma: bool) -> str:
    if comma and typ:  # the pipeline's export form NAME[dims],type (issue 13, item 2)
        text = f"{name}[{','.join(dimensions)}],{typ}"
    else:
        entries = list(dimensions) + ([f"type={typ}"] if typ else [])
        text = f"{name}[{', '.join(entries)}]"
    return f"{text}   {note}" if note else text


declarations = st.builds(_decl, names, dims, st.one_of(st.none(), types), comment,
                         st.booleans())

_side = st.one_of(
    names,
    st.lists(names, min_size=1, max_size=3).map(lambda ns: "(" + ", ".join(ns) + ")"),
    st.lists(names, min_size=2, max_size=3).map(", ".join),
)
edges = st.builds(
    lambda a, op, b, label, pad, note: (
        f"{a}{pad}{op}{pad}{b}" + (f":{label}" if label else "") + (f"  {note}" if note else "")
    ),
    _side,
    st.sampled_from([">", "->", "-", "<->", "|"]),
    _side,
    st.sampled_from(["", "", "policy_select"]),
    st.sampled_from(["", " "]),
    comment,
)
"""Connection lines: single, grouped and unparenthesised groups, all operators, labels."""

parameters = st.builds(
    lambda name, value, pad: f"{name}{pad}={pad}{value}",
    names,
    st.one_of(literals, regular_literals, bracket_literals,
              st.sampled_from(["clustered_mean_field", "[1,2,3]", "[up, down]"])),
    st.sampled_from(["", " "]),
)

free_text = st.lists(
    st.text(alphabet=ASCII_LETTERS + " .,:()-`*" + GREEK, max_size=30)
    .filter(lambda s: not s.strip().startswith("## ") and s.strip().strip("-") != ""),
    max_size=3,
)

time_lines = st.lists(
    st.sampled_from(["Time=t", "Dynamic", "Static", "Discrete", "ModelTimeHorizon=10 # steps",
                     "DiscreteTime=t"]),
    max_size=4,
)
annotation_lines = st.lists(
    st.builds(lambda n, t: f"{n}={t}", names, st.sampled_from(
        ["HiddenState", "PolicyVector # over actions", "Observation"])),
    max_size=4,
)
model_parameters = st.lists(
    st.builds(lambda k, v, sep: f"{k}{sep}{v}", st.sampled_from(
        ["num_obs", "num_actions", "action_labels", "nr_agents"]),
        st.sampled_from(["3", "up,down,left", "0.5  # rate"]), st.sampled_from([": ", "="])),
    max_size=3,
)


@st.composite
def models(draw: st.DrawFn) -> str:
    """One model's text: preamble and the standard sections with generated bodies."""
    title = draw(st.text(alphabet=ASCII_LETTERS + " ", min_size=1, max_size=20))
    blank = draw(st.sampled_from(["", "\n"]))
    sections = [
        ("GNNSection", ["ActInfPOMDP"]),
        ("GNNVersionAndFlags", ["GNN v1"]),
        ("ModelName", [title.strip() or "Model"]),
        ("ModelAnnotation", draw(free_text)),
        ("StateSpaceBlock", ["# declarations", *draw(st.lists(declarations, max_size=5))]),
        ("Connections", draw(st.lists(edges, max_size=5))),
        ("InitialParameterization", draw(st.lists(parameters, max_size=3))),
        ("Equations", ["# none"]),
        ("Time", draw(time_lines)),
        ("ActInfOntologyAnnotation", draw(annotation_lines)),
        ("ModelParameters", draw(model_parameters)),
        ("Footer", draw(free_text)),
    ]
    if draw(st.booleans()):
        sections.append(("StateSpaceBlock", draw(st.lists(declarations, max_size=2))))
    out = [f"# GNN Example: {title}", "# GNN Version: 1.0", ""]
    for name, body in sections:
        out.append(f"## {name}" + blank)
        out.extend(body)
        out.append("")
    return "\n".join(out)


front_matter = st.dictionaries(
    st.sampled_from(["author", "version", "tags", "description", "license", "depends_on",
                     "x_custom"]),
    st.one_of(
        st.text(alphabet=ASCII_LETTERS + "0123456789 .:-", max_size=12),
        st.lists(st.text(alphabet=ASCII_LETTERS + "0123456789 .-", max_size=8), max_size=3),
    ),
    max_size=4,
)


def _front_matter_text(values: dict[str, str | list[str]], inline: bool) -> list[str]:
    lines = ["---"]
    for key, value in values.items():
        if isinstance(value, list):
            if inline:
                lines.append(f"{key}: [" + ", ".join(f'"{v}"' for v in value) + "]")
            else:
                lines.append(f"{key}:")
                lines.extend(f'  - "{v}"' for v in value)
        else:
            lines.append(f'{key}: "{value}"')
    lines.append("---")
    return lines


@st.composite
def gnn_texts(draw: st.DrawFn) -> str:
    """Whole GNN files: optional front matter and one to three models."""
    count = draw(st.integers(1, 3))
    parts = [draw(models()) for _ in range(count)]
    head: list[str] = []
    if draw(st.booleans()):
        head = _front_matter_text(draw(front_matter), draw(st.booleans()))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = "\n".join(head) + ("\n" if head else "") + "\n---\n".join(parts)
    return text.replace("\n", newline)


__all__ = [
    "annotation_lines",
    "bracket_literals",
    "declarations",
    "dims",
    "edges",
    "free_text",
    "front_matter",
    "gnn_texts",
    "literals",
    "model_parameters",
    "models",
    "names",
    "numbers",
    "parameters",
    "regular_literals",
    "time_lines",
    "types",
]

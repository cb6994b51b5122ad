"""Issue 13, items 1-5: forms real GNN files use, each accepted, its wrong variant caught with
the right code and line, and (where it applies) a round trip through the renderer.

Every file here is a small one of our own, built from ``tests/data/validate_base.md``.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.gnn import parse_text, validate
from registry.gnn.model import Finding, GnnModel
from registry.gnn.render import render
from tests import strategies
from tests.test_gnn_codes import BASE, appended, line_of, with_section
from tests.test_gnn_render import _values


def findings_of(text: str) -> tuple[Finding, ...]:
    """Parse and validate ``text`` (parser and validator findings)."""
    return validate(parse_text(text))


def found(text: str) -> list[tuple[str, int | None]]:
    """``(code, line)`` of every error and of the warnings a case is about."""
    return [(f.code, f.line) for f in findings_of(text)]


def only_model(text: str) -> GnnModel:
    models = parse_text(text).models
    assert len(models) == 1
    return models[0]


def assert_round_trip(text: str) -> None:
    """Rendering the parsed text and parsing it again gives the same values, and the
    rendering is canonical (a second render is the same text)."""
    first = parse_text(text)
    again = parse_text(render(first))
    assert _values(again) == _values(first)
    assert render(again) == render(first)


def with_variable(declaration: str, value: str | None = None, edge: str = "x>s") -> str:
    """BASE plus one connected variable (and optionally its value)."""
    text = appended(BASE, "StateSpaceBlock", declaration)
    text = appended(text, "Connections", edge)
    return appended(text, "InitialParameterization", value) if value is not None else text


MULTI_LINE_BRACKETS = "x = [\n  [0.9, 0.1],\n  [0.1, 0.9]\n]"


class TestMultiLineBracketLiterals:
    """Item 1: ``name = [`` ... ``]`` over several lines is one statement."""

    def test_accepted_with_its_value_and_lines(self) -> None:
        text = with_variable("x[2,2,type=float]", MULTI_LINE_BRACKETS)
        assert found(text) == []
        param = next(p for p in only_model(text).parameters if p.name == "x")
        assert param.value == ((0.9, 0.1), (0.1, 0.9))
        assert param.shape == (2, 2)
        assert (param.line, param.end_line) == (line_of(text, "x = ["), line_of(text, "]"))

    def test_same_as_one_line_and_braces(self) -> None:
        """The multi-line form, the one-line form and the ``{...}`` form read alike."""
        values = []
        for value in (MULTI_LINE_BRACKETS, "x=[[0.9, 0.1], [0.1, 0.9]]",
                      "x={\n  (0.9, 0.1),\n  (0.1, 0.9)\n}"):
            model = only_model(with_variable("x[2,2,type=float]", value))
            values.append(next((p.value, p.shape) for p in model.parameters if p.name == "x"))
        assert values[0] == values[1] == values[2]

    def test_comments_and_blank_lines_inside(self) -> None:
        text = with_variable("x[2,2,type=float]",
                             "x = [   # rows\n\n  [0.9, 0.1],  # first\n  # note\n  [0.1, 0.9]\n]")
        assert found(text) == []

    def test_wrong_shape_is_e002_at_the_first_line(self) -> None:
        text = with_variable("x[2,2,type=float]", "x = [\n  [0.9, 0.1, 0.0],\n  [0.1, 0.9, 0.0]\n]")
        assert found(text) == [("GNN-E002", line_of(text, "x = ["))]

    def test_unclosed_is_e103_at_the_first_line(self) -> None:
        text = with_variable("x[2,2,type=float]", "x = [\n  [0.9, 0.1],\n  [0.1, 0.9]")
        assert found(text) == [("GNN-E103", line_of(text, "x = ["))]

    def test_mismatched_bracket_is_w108(self) -> None:
        """``[`` closed by ``}``: not a literal, said once, at the statement."""
        text = with_variable("x[2,type=float]", "x = [\n  0.9, 0.1\n}")
        assert found(text) == [("GNN-W108", line_of(text, "x = ["))]

    def test_list_of_words_is_text_without_warning(self) -> None:
        text = with_variable("x[2,type=float]", "x = [up, down]")
        assert found(text) == []

    def test_round_trip(self) -> None:
        assert_round_trip(with_variable("x[2,2,type=float]", MULTI_LINE_BRACKETS))


class TestCommaTypeDeclarations:
    """Item 2: the pipeline's export form ``NAME[dims],type``."""

    @pytest.mark.parametrize(("line", "dims", "type_"), [
        ("x[9,9],float", (9, 9), "float"),
        ("x[2,1], int   # a column", (2, 1), "int"),
        ("x[π],type=float", ("π",), "float"),
        ("x[3,type=int],int", (3,), "int"),
    ])
    def test_accepted(self, line: str, dims: tuple[object, ...], type_: str) -> None:
        text = with_variable(line)
        if "π" in line:
            text = appended(text, "StateSpaceBlock", "π[3,type=float]")
            text = appended(text, "Connections", "π>x")
        assert found(text) == []
        var = next(v for v in only_model(text).variables if v.name == "x")
        assert (var.dims, var.type, var.line) == (dims, type_, line_of(text, line))

    @pytest.mark.parametrize("line", [
        "x[9,9],",
        "x[9,9],float,int",
        "x[9,9] float",
        "x[9,9],(float)",
    ])
    def test_wrong_variants_are_e102(self, line: str) -> None:
        text = with_variable(line)
        assert ("GNN-E102", line_of(text, line)) in found(text)
        assert "x" not in {v.name for v in only_model(text).variables}

    def test_two_different_types_are_e102(self) -> None:
        text = with_variable("x[3,type=int],float")
        assert found(text) == [("GNN-E102", line_of(text, "x[3,type=int],float"))]
        [finding] = findings_of(text)
        assert "two types" in finding.message

    def test_round_trip_writes_the_canonical_form(self) -> None:
        text = with_variable("x[9,9],float")
        assert "x[9,9,type=float]" in render(parse_text(text)).splitlines()
        assert_round_trip(text)


FENCED_CONNECTIONS = "```\ns-A\nA-o\ns>B\nu>B\n```"


class TestCodeFences:
    """Item 3: fence lines inside a section are Markdown, not GNN."""

    @pytest.mark.parametrize("fence", ["```", "```gnn", "~~~", "````text"])
    def test_fenced_connections(self, fence: str) -> None:
        closing = fence.rstrip(string.ascii_lowercase)
        text = with_section(BASE, "Connections", f"{fence}\ns-A\nA-o\ns>B\nu>B\n{closing}")
        assert found(text) == []
        assert [(e.source, e.target) for e in only_model(text).connections] == [
            ("s", "A"), ("A", "o"), ("s", "B"), ("u", "B")]

    def test_fenced_declarations_parameters_and_time(self) -> None:
        text = BASE
        for name in ("StateSpaceBlock", "InitialParameterization", "Time",
                     "ActInfOntologyAnnotation", "ModelParameters"):
            body = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0].strip("\n")
            text = with_section(text, name, f"```\n{body}\n```")
        assert found(text) == []
        assert len(only_model(text).variables) == 6

    def test_lone_closing_fence_is_skipped(self) -> None:
        """The reference reports this line as E005; it is Markdown."""
        text = appended(BASE, "Connections", "```")
        assert found(text) == []

    def test_bad_edge_inside_a_fence_is_still_e005(self) -> None:
        text = with_section(BASE, "Connections", "```\ns-A\ns o\nA-o\ns>B\nu>B\n```")
        assert found(text) == [("GNN-E005", line_of(text, "s o"))]

    def test_heading_inside_a_fence_is_no_section(self) -> None:
        """A ``## `` line in a fenced example is text of the section around it."""
        example = "An example:\n```\n## Connections\nq>r\n```\nEnd of example."
        text = with_section(BASE, "ModelAnnotation", example)
        assert found(text) == []
        model = only_model(text)
        assert [s.name for s in model.sections].count("Connections") == 1
        annotation = next(s for s in model.sections if s.name == "ModelAnnotation")
        assert "## Connections" in annotation.body

    def test_unclosed_fence_hides_no_heading(self) -> None:
        """One stray fence line cannot turn the rest of a model into code."""
        text = appended(BASE, "ModelAnnotation", "```")
        assert found(text) == []
        assert len(only_model(text).sections) == len(only_model(BASE).sections)

    def test_round_trip_drops_the_fence_lines(self) -> None:
        text = with_section(BASE, "Connections", FENCED_CONNECTIONS)
        rendered = render(parse_text(text))
        connections = rendered.split("## Connections\n", 1)[1].split("\n## ", 1)[0]
        assert "```" not in connections
        assert_round_trip(text)
        assert _values(parse_text(rendered)) == _values(parse_text(BASE))


class TestSymbolicDimensionMessages:
    """Item 4: the E002 message shows the declaration as written and the dimension at odds."""

    POLICY = "π[3,type=float]"

    def _text(self, declaration: str, value: str) -> str:
        text = with_variable(declaration, value)
        text = appended(text, "StateSpaceBlock", self.POLICY)
        return appended(text, "Connections", "π>x")

    def test_len_dimension_is_evaluated(self) -> None:
        value = "x={((1,0),(0,1),(1,0)), ((0,1),(1,0),(0,1))}"
        text = self._text("x[2,len(π),2,type=float]", value)
        assert found(text) == []
        var = next(v for v in only_model(text).variables if v.name == "x")
        assert var.dims == (2, "len(π)", 2)

    def test_message_names_the_dimension_and_why(self) -> None:
        text = self._text("x[2,len(π),2,type=float]", "x={((1,0),(0,1)), ((0,1),(1,0))}")
        assert found(text) == [("GNN-E002", line_of(text, "x={"))]
        [finding] = findings_of(text)
        assert "declared x[2,len(π),2] = [2,3,2]" in finding.message
        assert "dimension 2 is 'len(π)' = 3" in finding.message
        assert f"π[3] at line {line_of(text, self.POLICY)}" in finding.message
        assert "the value has 2" in finding.message
        assert "[2,2]" not in finding.message

    def test_model_parameter_source_is_named(self) -> None:
        text = with_variable("x[num_obs,2,type=float]", "x={(1,0),(0,1)}")
        assert found(text) == []  # num_obs: 2 in the base file
        text = with_section(text, "ModelParameters", "num_obs: 3\nnum_actions: 2")
        assert found(text) == [("GNN-E002", line_of(text, "x={"))]
        [finding] = findings_of(text)
        assert "dimension 1 is 'num_obs' = 3 (ModelParameters num_obs: 3)" in finding.message

    @pytest.mark.parametrize(("dimension", "detail"), [
        ("2*n", "it is an expression"),
        ("len(ghost)", "no variable or ModelParameters key"),
    ])
    def test_unevaluable_dimension_is_w105_not_a_guess(self, dimension: str, detail: str) -> None:
        declaration = f"x[2,{dimension},type=float]"
        text = self._text(declaration, "x={(1,0),(0,1)}")
        assert found(text) == [("GNN-W105", line_of(text, declaration))]
        [finding] = findings_of(text)
        assert "cannot be evaluated" in finding.message
        assert detail in finding.message

    @pytest.mark.parametrize("dimension", ["0", "-1", "3.5", ""])
    def test_bad_dimensions_are_still_e104(self, dimension: str) -> None:
        declaration = f"x[2,{dimension},type=float]"
        text = with_variable(declaration)
        assert found(text) == [("GNN-E104", line_of(text, declaration))]

    def test_round_trip_keeps_the_expression(self) -> None:
        text = self._text("x[2,len(π),2,type=float]", "x={((1,0),(0,1)), ((0,1),(1,0))}")
        assert "x[2,len(π),2,type=float]" in render(parse_text(text)).splitlines()
        assert_round_trip(text)


class TestEquivalencesBothWays:
    """Item 5: axes of length 1 never matter, in either direction; action-major is one-way."""

    @pytest.mark.parametrize(("declaration", "value"), [
        ("x[2,2,1,type=float]", "x={(1.0, 0.0), (0.0, 1.0)}"),     # the example
        ("x[2,2,type=float]", "x={((1.0,0.0),(0.0,1.0))}"),         # [r,c] as [1,r,c]
        ("x[2,2,type=float]", "x=[[[1.0],[0.0]],[[0.0],[1.0]]]"),   # [r,c] as [r,c,1]
        ("x[1,3,type=float]", "x={0.1, 0.2, 0.7}"),                 # [1,n] as [n]
        ("x[3,type=float]", "x=[[0.1],[0.2],[0.7]]"),               # [n] as [n,1]
        ("x[1,1,type=float]", "x=0.5"),                             # scalar
        ("x[1,type=float]", "x={((0.5))}"),
        ("x[2,2,3,type=float]", "x={((1,0),(0,1)), ((0,1),(1,0)), ((1,0),(0,1))}"),
    ])
    def test_accepted(self, declaration: str, value: str) -> None:
        assert found(with_variable(declaration, value)) == []

    @pytest.mark.parametrize(("declaration", "value"), [
        ("x[2,2,1,type=float]", "x={(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)}"),
        ("x[2,3,3,type=float]", "x=[[[1,0],[0,1],[1,0]],[[0,1],[1,0],[0,1]],[[1,0],[0,1],[1,0]]]"),
        ("x[1,3,type=float]", "x={0.1, 0.2}"),
        ("x[2,2,type=float]", "x={(1.0, 0.0, 0.0, 1.0)}"),
    ])
    def test_still_caught(self, declaration: str, value: str) -> None:
        """Sizes other than 1 must agree, and the reverse of action-major is not accepted
        (a [2,3,3] declaration does not take a 3x3x2 value)."""
        text = with_variable(declaration, value)
        assert found(text) == [("GNN-E002", line_of(text, "x="))]


class TestProperties:
    """Hypothesis: the two new forms, read and round-tripped."""

    @settings(max_examples=60, deadline=None)
    @given(strategies.bracket_literals)
    def test_bracket_literals_read_as_one_statement(self, literal: str) -> None:
        text = appended(BASE, "InitialParameterization", f"x = {literal}")
        model = only_model(text)
        param = next(p for p in model.parameters if p.name == "x")
        rows = literal.count("\n") - 1
        assert param.shape is not None
        assert param.shape[0] == rows
        assert [f.code for f in model.findings] == []
        assert_round_trip(text)

    @settings(max_examples=60, deadline=None)
    @given(strategies.names, strategies.dims, strategies.types, st.booleans())
    def test_comma_type_reads_like_type_entry(self, name: str, dims: list[str], type_: str,
                                              comma: bool) -> None:
        line = f"{name}[{','.join(dims)}],{type_}" if comma else (
            f"{name}[{','.join(dims)},type={type_}]")
        text = appended(BASE, "StateSpaceBlock", line)
        model = only_model(text)
        assert model.findings == ()
        var = model.variables[-1]
        assert (var.name, var.type) == (name, type_)
        assert [str(dim) for dim in var.dims] == dims
        assert_round_trip(text)

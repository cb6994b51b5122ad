"""Behaviour of the GNN validator: shapes, symbolic dimensions, names, ordering, blocking."""

from __future__ import annotations

import pytest

from registry.gnn import check_bytes, has_errors, parse_text, validate
from registry.gnn.model import (
    Finding,
    GnnFile,
    GnnModel,
    ModelParameter,
    Parameter,
    Section,
    Variable,
)
from registry.gnn.ontology import is_known_term, ontology_terms
from registry.gnn.shapes import DimensionResolver, accepted_shapes, shape_matches
from tests.test_gnn_codes import BASE, appended, line_of, with_section


def findings_of(text: str) -> tuple[Finding, ...]:
    """Parse and validate ``text``."""
    return validate(parse_text(text))


def codes_at(text: str, code: str) -> list[int | None]:
    """Lines of every finding of ``code`` in ``text``."""
    return [f.line for f in findings_of(text) if f.code == code]


def with_declaration_and_value(declaration: str, value: str) -> str:
    """BASE plus one connected variable ``x`` with the given declaration and value."""
    text = appended(BASE, "StateSpaceBlock", declaration)
    text = appended(text, "Connections", "x>s")
    return appended(text, "InitialParameterization", value)


class TestShapeEquivalences:
    """Literal shapes are compared with the declaration after the accepted equivalences."""

    @pytest.mark.parametrize(("declaration", "value"), [
        ("x[3,type=float]", "x={(0.1, 0.2, 0.7)}"),
        ("x[3,type=float]", "x={0.1, 0.2, 0.7}"),
        ("x[3,1,type=float]", "x={(0.1, 0.2, 0.7)}"),
        ("x[3,1,type=float]", "x={0.1, 0.2, 0.7}"),
        ("x[1,type=float]", "x={(10.0)}"),
        ("x[2,3,type=float]", "x={(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)}"),
        ("x[2,2,type=float]", "x={( (1.0, 0.0), (0.0, 1.0) )}"),
        ("x[2,2,3,type=float]", "x={((1.0,0.0),(0.0,1.0)), ((0.0,1.0),(1.0,0.0)), "
                                "((1.0,0.0),(0.0,1.0))}"),
        ("x[2,3,2,type=float]", "x={((1.0,0.0),(0.0,1.0),(0.5,0.5)), "
                                "((0.0,1.0),(1.0,0.0),(0.5,0.5))}"),
        ("x[2,2,1,type=float]", "x={((1.0,0.0),(0.0,1.0))}"),
    ])
    def test_accepted_forms_give_no_error(self, declaration: str, value: str) -> None:
        """Each accepted way of writing a literal passes without GNN-E002."""
        assert codes_at(with_declaration_and_value(declaration, value), "GNN-E002") == []

    @pytest.mark.parametrize(("declaration", "value"), [
        ("x[2,type=float]", "x={(0.0, 0.5, 0.0, 0.5)}"),
        ("x[2,2,2,type=float]", "x={((1.0,0.0),(0.0,1.0))}"),
        ("x[3,2,type=float]", "x={(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)}"),
        ("x[1,type=float]", "x={(1.0, 2.0)}"),
        ("x[2,3,4,type=float]", "x={((1.0,0.0),(0.0,1.0))}"),
    ])
    def test_mismatches_are_e002_at_the_statement(self, declaration: str, value: str) -> None:
        """A literal fitting none of the accepted forms is GNN-E002 at its first line."""
        text = with_declaration_and_value(declaration, value)
        assert codes_at(text, "GNN-E002") == [line_of(text, "x={")]

    def test_ragged_literal_is_e002(self) -> None:
        """Rows of different lengths are GNN-E002 even when the element count would fit."""
        text = with_declaration_and_value("x[2,2,type=float]", "x={(1.0, 0.0), (0.0)}")
        found = [f for f in findings_of(text) if f.code == "GNN-E002"]
        assert [f.line for f in found] == [line_of(text, "x={")]
        assert "ragged" in found[0].message

    def test_message_names_variable_declared_and_actual_shape(self) -> None:
        """The E002 message names the variable, its declaration and the literal's shape."""
        text = with_declaration_and_value("x[2,type=float]", "x={(0.0, 0.5, 0.0, 0.5)}")
        (found,) = [f for f in findings_of(text) if f.code == "GNN-E002"]
        assert "'x'" in found.message
        assert "[2]" in found.message
        assert "1x4" in found.message

    def test_no_length_cap_on_large_literals(self) -> None:
        """A literal far longer than the reference's 10,000-character cap is still checked."""
        row = "(" + ", ".join("0.01" for _ in range(100)) + ")"
        value = "x={" + ",\n".join(row for _ in range(40)) + "}"
        assert len(value) > 10_000
        text = with_declaration_and_value("x[100,41,type=float]", value)
        assert codes_at(text, "GNN-E002") == [line_of(text, "x={")]
        ok = with_declaration_and_value("x[40,100,type=float]", value)
        assert codes_at(ok, "GNN-E002") == []

    def test_multi_line_literal_reports_first_line(self) -> None:
        """A mismatch in a multi-line literal points at the line with the name."""
        text = with_section(BASE, "InitialParameterization",
                            "A={\n  (0.9, 0.1, 0.0),\n  (0.1, 0.9, 0.0)\n}")
        assert codes_at(text, "GNN-E002") == [line_of(text, "A={")]


class TestAcceptedShapes:
    """The equivalence table itself."""

    def test_vector_forms(self) -> None:
        """[n] accepts [1,n]; [n,1] accepts [n] and [1,n]; axes of length 1 never matter
        (issue 13, item 5), but the sizes that are not 1 must agree."""
        assert shape_matches((3,), (1, 3))
        assert shape_matches((3, 1), (3,))
        assert shape_matches((3, 1), (1, 3))
        assert shape_matches((3,), (3, 1, 1))
        assert not shape_matches((3,), (3, 2))
        assert not shape_matches((3, 1), (1, 4))

    def test_action_major(self) -> None:
        """[d0,d1,d2] accepts [d2,d0,d1] but not other permutations."""
        assert shape_matches((4, 3, 2), (2, 4, 3))
        assert not shape_matches((4, 3, 2), (3, 2, 4))

    def test_declared_shape_comes_first(self) -> None:
        """The declared shape is listed first and no form is listed twice."""
        forms = accepted_shapes((1,))
        assert forms[0] == (1,)
        assert len(forms) == len(set(forms))


class TestSymbolicDimensions:
    """Symbolic dimensions resolve to a variable's first dimension or a ModelParameters int."""

    def test_variable_size_resolves_and_is_checked(self) -> None:
        """F[π] with π[3] is checked as [3]; the message shows the resolved shape."""
        text = appended(BASE, "StateSpaceBlock", "π[3,type=float]\nF[π,type=float]")
        text = appended(text, "Connections", "F>π\nπ>u")
        good = appended(text, "InitialParameterization", "F={(0.1, 0.2, 0.7)}")
        assert codes_at(good, "GNN-E002") == []
        bad = appended(text, "InitialParameterization", "F={(0.1, 0.2, 0.3, 0.4)}")
        (found,) = [f for f in findings_of(bad) if f.code == "GNN-E002"]
        assert found.line == line_of(bad, "F={")
        assert "[π] = [3]" in found.message

    def test_model_parameter_resolves(self) -> None:
        """A[num_obs,2] with num_obs: 2 is checked as [2,2]."""
        text = BASE.replace("A[2,2,type=float]", "A[num_obs,2,type=float]")
        assert findings_of(text) == ()
        bad = text.replace("num_obs: 2", "num_obs: 3")
        assert codes_at(bad, "GNN-E002") == [line_of(bad, "A={")]

    def test_unresolved_symbol_warns_and_skips_shape(self) -> None:
        """An unknown symbol is GNN-W105 at the declaration and the shape is not checked."""
        text = BASE.replace("A[2,2,type=float]", "A[nobody,2,type=float]")
        assert codes_at(text, "GNN-W105") == [line_of(text, "A[nobody")]
        assert codes_at(text, "GNN-E002") == []

    def test_non_integer_model_parameter_warns(self) -> None:
        """A symbol naming a non-integer ModelParameters value is GNN-W105 saying so."""
        text = BASE.replace("A[2,2,type=float]", "A[num_obs,2,type=float]")
        text = text.replace("num_obs: 2", "num_obs: two")
        (found,) = [f for f in findings_of(text) if f.code == "GNN-W105"]
        assert "'two'" in found.message

    def test_chain_and_cycle(self) -> None:
        """Symbols resolve through chains; a cycle resolves to nothing without recursion."""
        resolver = DimensionResolver.for_model(
            [Variable("a", ("b",), "float", 1), Variable("b", (4,), "float", 2),
             Variable("c", ("d",), "float", 3), Variable("d", ("c",), "float", 4)],
            [ModelParameter("n", "5", 5), ModelParameter("n", "6", 6)])
        assert resolver.resolve(("a", 2)) == (4, 2)
        assert resolver.size_of("c") is None
        assert resolver.size_of("n") == 6

    def test_dependent_of_unresolved_is_not_reported_twice(self) -> None:
        """Only the root of an unresolved chain gets GNN-W105."""
        text = appended(BASE, "StateSpaceBlock", "p[nobody,type=float]\nq[p,type=float]")
        text = appended(text, "Connections", "p>q\nq>s")
        assert codes_at(text, "GNN-W105") == [line_of(text, "p[nobody")]


class TestNameRules:
    """Declarations, edges, parameters and annotations are cross-checked by name."""

    def test_duplicate_declaration_mentions_first_line(self) -> None:
        """GNN-E004 is at the second declaration and names the first one's line."""
        text = appended(BASE, "StateSpaceBlock", "A[3,3,type=float]")
        (found,) = [f for f in findings_of(text) if f.code == "GNN-E004"]
        assert found.line == line_of(text, "A[3,3")
        assert f"line {line_of(text, 'A[2,2')}" in found.message

    @pytest.mark.parametrize("time_line", ["Time=t", "DiscreteTime=t", "time=t"])
    def test_time_variable_is_exempt_from_w001(self, time_line: str) -> None:
        """The variable named by the Time section is not reported as unconnected."""
        text = with_section(BASE, "Time", f"{time_line}\nDynamic")
        text = with_section(text, "ActInfOntologyAnnotation", "A=LikelihoodMatrix")
        assert codes_at(text, "GNN-W001") == []

    def test_unconnected_t_without_time_setting_is_w001(self) -> None:
        """Without a Time= setting or a Time annotation, an unconnected t is GNN-W001."""
        text = with_section(BASE, "Time", "Dynamic")
        text = with_section(text, "ActInfOntologyAnnotation", "A=LikelihoodMatrix")
        assert codes_at(text, "GNN-W001") == [line_of(text, "t[1,")]

    def test_grouped_edge_reports_undeclared_once(self) -> None:
        """An undeclared target of a grouped edge is reported once for that line."""
        text = appended(BASE, "Connections", "(s, u)>ghost")
        assert codes_at(text, "GNN-W002") == [line_of(text, "(s, u)>ghost")]

    def test_grouped_and_spaced_edges_count_as_use(self) -> None:
        """Variables used only in grouped or spaced edges are not GNN-W001."""
        text = appended(BASE, "StateSpaceBlock", "x[2,type=float]\ny[2,type=float]")
        text = appended(text, "Connections", "(x, s) > B\nB -> y")
        assert codes_at(text, "GNN-W001") == []
        assert codes_at(text, "GNN-E005") == []

    def test_duplicate_model_parameter_names_both_values(self) -> None:
        """GNN-W103 names the key, both values and the first line."""
        text = appended(BASE, "ModelParameters", "num_obs: 64")
        (found,) = [f for f in findings_of(text) if f.code == "GNN-W103"]
        assert "'2'" in found.message
        assert "'64'" in found.message

    def test_repeated_parameter_names_first_line(self) -> None:
        """GNN-W109 is at the second assignment and names the first one's line."""
        text = appended(BASE, "InitialParameterization", "A={(0.5, 0.5), (0.5, 0.5)}")
        (found,) = [f for f in findings_of(text) if f.code == "GNN-W109"]
        assert f"line {line_of(text, 'A={(0.9')}" in found.message

    @pytest.mark.parametrize("type_name", ["FLOAT", "Categorical", "dirichlet", "binary"])
    def test_known_types_any_case(self, type_name: str) -> None:
        """Known types are accepted whatever their case."""
        text = BASE.replace("s[2,1,type=float]", f"s[2,1,type={type_name}]")
        assert codes_at(text, "GNN-W104") == []

    def test_ontology_terms_any_case(self) -> None:
        """Ontology terms match case-insensitively; the vocabulary has 60-100 terms."""
        assert is_known_term("hiddenstate")
        assert is_known_term(" ExpectedFreeEnergy ")
        assert not is_known_term("Banana")
        assert 60 <= len(ontology_terms()) <= 100

    def test_unterminated_literal_is_not_also_w108(self) -> None:
        """A literal the parser reports as unterminated (E103) is not also GNN-W108."""
        text = appended(BASE, "InitialParameterization", "C={(1.0, 2.0)")
        codes = {f.code for f in findings_of(text)}
        assert "GNN-E103" in codes
        assert "GNN-W108" not in codes

    def test_bare_words_and_lists_are_not_w108(self) -> None:
        """Values that are not brace literals (words, [lists]) are kept without GNN-W108."""
        text = appended(BASE, "InitialParameterization", "mode=clustered\nids=[1,2,3]")
        assert codes_at(text, "GNN-W108") == []


class TestOrderingAndBlocking:
    """Findings are sorted, strict changes only what blocks."""

    def test_sorted_by_line_none_first(self) -> None:
        """Findings without a line come first, then ascending lines."""
        text = appended(BASE.replace("## Footer", "## Footnote"), "Connections", "s>ghost")
        text = appended(text, "StateSpaceBlock", "lonely[2,type=float]")
        found = findings_of(text)
        assert found[0].line is None
        lines = [f.line for f in found if f.line is not None]
        assert lines == sorted(lines)
        assert len(lines) >= 2

    def test_strict_does_not_change_findings(self) -> None:
        """validate(strict=True) returns the same findings as the default."""
        gnn = parse_text(appended(BASE, "StateSpaceBlock", "lonely[2,type=float]"))
        assert validate(gnn, strict=True) == validate(gnn)

    def test_has_errors(self) -> None:
        """Warnings block only when strict; errors always block."""
        warning = Finding("GNN-W001", "warning", "w", 3)
        error = Finding("GNN-E002", "error", "e", 4)
        assert not has_errors([warning])
        assert has_errors([warning], strict=True)
        assert has_errors([warning, error])
        assert not has_errors([], strict=True)

    def test_check_bytes_ok_follows_strict(self) -> None:
        """check_bytes is ok with warnings, and not ok with them when strict."""
        data = appended(BASE, "StateSpaceBlock", "lonely[2,type=float]").encode()
        assert check_bytes(data).ok
        assert not check_bytes(data, strict=True).ok
        assert check_bytes(data).findings == check_bytes(data, strict=True).findings

    def test_not_gnn_gives_only_the_file_finding(self) -> None:
        """A file with no GNN heading gets GNN-E101 and no missing-section noise."""
        assert [f.code for f in findings_of("# Title\n\nProse only.\n")] == ["GNN-E101"]


class TestMultiModel:
    """Each model of a multi-model file is validated on its own, with file lines."""

    def test_second_model_findings(self) -> None:
        """A missing section in model 2 names it; a mismatch in model 2 has a file line."""
        second = BASE.replace("## Connections\ns-A\nA-o\ns>B\nu>B\n", "")
        second = with_section(second, "InitialParameterization", "A={(1.0, 0.0, 0.0)}")
        text = BASE + "\n---\n" + second
        gnn = parse_text(text)
        assert len(gnn.models) == 2
        found = validate(gnn)
        (missing,) = [f for f in found if f.code == "GNN-E001"]
        assert "model 2 of 2" in missing.message
        assert [f.line for f in found if f.code == "GNN-E002"] == [line_of(text, "A={(1.0")]

    def test_single_model_messages_do_not_name_a_model(self) -> None:
        """In a one-model file, messages carry no 'model N of M' prefix."""
        (missing,) = findings_of(BASE.replace("## ModelName", "## Name"))[:1]
        assert missing.code == "GNN-E001"
        assert "model 1" not in missing.message


def test_hand_built_model_validates() -> None:
    """Rules work on GnnModel values built by hand, without the parser."""
    sections = tuple(Section(name, i + 1, ()) for i, name in enumerate(
        ("GNNSection", "GNNVersionAndFlags", "ModelName", "StateSpaceBlock", "Connections",
         "ModelAnnotation", "InitialParameterization", "Time", "Footer")))
    model = GnnModel(
        preamble=(), sections=sections,
        variables=(Variable("C", (2,), "float", 20),),
        parameters=(Parameter("C", "{(1.0, 0.0, 0.0)}", ((1.0, 0.0, 0.0),), (1, 3), 30, 30),),
    )
    found = validate(GnnFile(models=(model,)))
    assert [(f.code, f.line) for f in found] == [("GNN-W001", 20), ("GNN-E002", 30)]

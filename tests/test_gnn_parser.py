"""Tests for registry.gnn.parser (and the section readers it uses)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.errors import GnnParseError
from registry.gnn.model import Finding, GnnFile, GnnModel
from registry.gnn.parser import parse_bytes, parse_text
from tests import strategies


def model_text(**sections: str) -> str:
    """A small GNN text with the given section bodies (keyword = section name)."""
    parts = ["# GNN Example: Test", "## GNNSection", "ActInfPOMDP", "## ModelName", "Test"]
    for name, body in sections.items():
        parts.append(f"## {name}")
        parts.append(body)
    return "\n".join(parts) + "\n"


def only(text: str) -> GnnModel:
    """Parse ``text`` and return its single model."""
    gnn = parse_text(text)
    assert len(gnn.models) == 1, gnn
    return gnn.models[0]


def codes_of(findings: tuple[Finding, ...]) -> list[tuple[str, int | None]]:
    """``(code, line)`` pairs of findings."""
    return [(f.code, f.line) for f in findings]


class TestEncoding:
    """Bytes in: BOM, NUL, invalid UTF-8, line endings, emptiness."""

    def test_bom_is_stripped(self) -> None:
        """A UTF-8 BOM does not change the result."""
        text = model_text(StateSpaceBlock="A[2]")
        assert parse_bytes(b"\xef\xbb\xbf" + text.encode()) == parse_text(text)

    def test_nul_byte(self) -> None:
        """A NUL byte gives GNN-E100 at its line and no models."""
        gnn = parse_bytes(b"## A\nok\nbad\x00byte\n")
        assert gnn.models == ()
        assert codes_of(gnn.findings) == [("GNN-E100", 3)]
        assert "NUL" in gnn.findings[0].message

    def test_invalid_utf8(self) -> None:
        """Invalid UTF-8 gives GNN-E100 at the line of the first bad byte."""
        gnn = parse_bytes("## A\nγ ok\r\n".encode() + b"x\xffy\n")
        assert codes_of(gnn.findings) == [("GNN-E100", 3)]
        assert "0xff" in gnn.findings[0].message

    def test_nul_in_text(self) -> None:
        """parse_text also refuses a NUL character."""
        assert codes_of(parse_text("## A\n\x00").findings) == [("GNN-E100", 2)]

    @pytest.mark.parametrize("newline", ["\r\n", "\r"])
    def test_line_endings(self, newline: str) -> None:
        """CRLF and lone CR give the same values and line numbers as LF."""
        text = model_text(StateSpaceBlock="A[2,type=float]", Connections="A>A")
        assert parse_text(text.replace("\n", newline)) == parse_text(text)

    def test_no_final_newline(self) -> None:
        """A missing final newline loses nothing."""
        model = only(model_text(Connections="a>b").rstrip("\n"))
        assert [(c.source, c.target) for c in model.connections] == [("a", "b")]

    @pytest.mark.parametrize("text", ["", "   \n\t\n", "# title only\n### not a heading\n"])
    def test_not_gnn(self, text: str) -> None:
        """Empty text, blank text and text without a '## ' heading give GNN-E101."""
        gnn = parse_text(text)
        assert gnn.models == ()
        assert [f.code for f in gnn.findings] == ["GNN-E101"]

    def test_wrong_types(self) -> None:
        """Only GnnParseError is raised for arguments of the wrong type."""
        with pytest.raises(GnnParseError):
            parse_bytes("text")  # type: ignore[arg-type]
        with pytest.raises(GnnParseError):
            parse_text(b"bytes")  # type: ignore[arg-type]

    def test_line_count(self) -> None:
        """line_count counts lines with or without a final newline."""
        assert parse_text("## A\nx\n").line_count == 2
        assert parse_text("## A\nx").line_count == 2


class TestArbitraryInput:
    """The parser never raises on arbitrary input."""

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text())
    def test_text(self, text: str) -> None:
        """Arbitrary text gives a GnnFile."""
        assert isinstance(parse_text(text), GnnFile)

    @settings(max_examples=300)
    @given(st.binary())
    def test_bytes(self, data: bytes) -> None:
        """Arbitrary bytes give a GnnFile."""
        assert isinstance(parse_bytes(data), GnnFile)

    @settings(max_examples=200)
    @given(st.lists(st.sampled_from([
        "## StateSpaceBlock", "## Connections", "## InitialParameterization", "## Time",
        "## ModelParameters", "## ActInfOntologyAnnotation", "---", "A[3", "a->b:x", "(a,b)>",
        "A={(1,", ")}", "x: y", "k=v", "# c", "", "γ[π]", "s_t+1-o", "{", "(((", "A = (1)",
    ]), max_size=30).map("\n".join))
    def test_gnn_like_text(self, text: str) -> None:
        """Text made of GNN fragments parses without raising."""
        assert isinstance(parse_text(text), GnnFile)


class TestSections:
    """Headings, preamble and duplicate sections."""

    def test_heading_rule(self) -> None:
        """'## Name' (stripped) is a heading; '###' and '##Name' are not."""
        model = only("pre\n  ## First Section  \n### comment\n##NoSpace\n## Second\nbody")
        assert [(s.name, s.line) for s in model.sections] == [("First Section", 2),
                                                              ("Second", 5)]
        assert model.sections[0].body == ("### comment", "##NoSpace")
        assert model.preamble == ("pre",)

    def test_duplicates_kept(self) -> None:
        """Duplicate sections are all kept, in order, and their values are all read."""
        model = only(model_text(StateSpaceBlock="A[2]") + "## StateSpaceBlock\nB[3]\n")
        assert [s.name for s in model.sections].count("StateSpaceBlock") == 2
        assert [v.name for v in model.variables] == ["A", "B"]

    def test_model_name(self) -> None:
        """The ModelName property reads the first body line."""
        assert only(model_text()).name == "Test"


class TestFrontMatter:
    """YAML front matter subset."""

    def test_values(self, data_dir: Path) -> None:
        """Scalars, quotes, inline and block lists and unknown keys are read as text."""
        gnn = parse_bytes((data_dir / "parser_front_matter_multi.md").read_bytes())
        assert gnn.findings == ()
        assert gnn.front_matter_line == 1
        assert gnn.front_matter == {
            "author": "Ada Lovelace",
            "version": "2.3.0",
            "tags": ["pomdp", "test", "small"],
            "framework_targets": ["pymdp", "rxinfer"],
            "description": "Two small models",
            "x_custom": "kept",
        }

    def test_unclosed(self) -> None:
        """An unclosed front matter is GNN-E106 at line 1; the rest is still parsed."""
        gnn = parse_text("---\nauthor: me\n## ModelName\nX\n")
        assert codes_of(gnn.findings) == [("GNN-E106", 1)]
        assert gnn.front_matter == {}
        assert gnn.models[0].name == "X"

    def test_bad_line(self) -> None:
        """A line that is not key: value is GNN-E106 at its line; good keys are kept."""
        gnn = parse_text("---\nauthor: me\njust words\n  indented: no\n---\n## ModelName\nX\n")
        assert codes_of(gnn.findings) == [("GNN-E106", 3), ("GNN-E106", 4)]
        assert gnn.front_matter == {"author": "me"}
        assert gnn.models[0].first_line == 6

    def test_empty_key_and_list(self) -> None:
        """'key:' alone is the empty string and 'key: []' the empty list."""
        gnn = parse_text("---\nsource:\ntags: []\n---\n## A\n")
        assert gnn.front_matter == {"source": "", "tags": []}


class TestMultiModel:
    """Splitting files into models on '---' lines."""

    def test_front_matter_file(self, data_dir: Path) -> None:
        """With front matter every '---' line splits; lines stay file-absolute."""
        gnn = parse_bytes((data_dir / "parser_front_matter_multi.md").read_bytes())
        assert [m.name for m in gnn.models] == ["First Model", "Second Model"]
        assert [(m.first_line, m.last_line, m.index) for m in gnn.models] == [
            (11, 20, 0), (22, 30, 1)]
        assert gnn.models[1].variables[0].line == 28
        assert gnn.is_multi_model

    def test_rule_in_prose_does_not_split(self, data_dir: Path) -> None:
        """A horizontal rule in ModelAnnotation prose keeps the model whole."""
        gnn = parse_bytes((data_dir / "parser_greek_grouped.md").read_bytes())
        assert len(gnn.models) == 1
        assert "---" in gnn.models[0].section("ModelAnnotation").body  # type: ignore[union-attr]

    def test_repeated_structure_splits(self) -> None:
        """Without front matter, '---' before a repeated section heading splits."""
        text = model_text(StateSpaceBlock="a[2]") + "  -----  \n" + model_text(
            StateSpaceBlock="b[2]")
        gnn = parse_text(text)
        assert [[v.name for v in m.variables] for m in gnn.models] == [["a"], ["b"]]
        assert gnn.models[1].first_line == gnn.models[0].last_line + 2

    def test_rule_before_first_heading(self) -> None:
        """A '---' with no heading before it does not split."""
        gnn = parse_text("# title\n---\n## ModelName\nX\n")
        assert len(gnn.models) == 1
        assert gnn.models[0].preamble == ("# title", "---")


class TestStateSpaceBlock:
    """Declarations."""

    def test_greek_grouped_file(self, data_dir: Path) -> None:
        """Greek names, '+' in names, symbolic dims, default= and comments are read."""
        model = parse_bytes((data_dir / "parser_greek_grouped.md").read_bytes()).models[0]
        assert model.findings == ()
        by_name = {v.name: v for v in model.variables}
        assert list(by_name) == ["A", "B", "s", "s_t+1", "o", "γ", "π", "G", "u", "D"]
        assert by_name["B"].dims == (3, 3, 2)
        assert by_name["G"].dims == ("π",)
        assert by_name["γ"].comment == "precision"
        assert by_name["D"].default == "uniform"
        assert by_name["o"].type == "int"
        assert by_name["A"].line == 20

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ("A [3]", "no space is allowed before '['"),
            ("A[3", "does not end with ']'"),
            ("3A[2]", "starts with a digit"),
            ("garbage words", "no '[dims]'"),
            ("a-b[2]", "not a valid name"),
        ],
    )
    def test_bad_declaration(self, line: str, reason: str) -> None:
        """A line that is not NAME[...] is GNN-E102 at its line, with the reason."""
        model = only(model_text(StateSpaceBlock=f"ok[1]\n{line}"))
        assert codes_of(model.findings) == [("GNN-E102", 8)]
        assert reason in model.findings[0].message
        assert line in model.findings[0].message
        assert [v.name for v in model.variables] == ["ok"]

    @pytest.mark.parametrize("dim", ["0", "-2", "2.5", "", "9" * 5000])
    def test_bad_dimension(self, dim: str) -> None:
        """A dimension that is not a positive integer or a name is GNN-E104."""
        model = only(model_text(StateSpaceBlock=f"A[3,{dim},type=float]"))
        assert codes_of(model.findings) == [("GNN-E104", 7)]
        assert "'A'" in model.findings[0].message
        assert model.variables[0].dims == (3,)

    def test_duplicates_and_unknown_keys(self) -> None:
        """Duplicate declarations are kept; unknown key=value entries are not dims."""
        model = only(model_text(StateSpaceBlock="A[2,shape=x]\nA[3]"))
        assert [(v.name, v.dims, v.type) for v in model.variables] == [
            ("A", (2,), None), ("A", (3,), None)]


class TestConnections:
    """Edges."""

    def test_expansion(self, data_dir: Path) -> None:
        """Grouped, spaced, labelled and every operator form expand into edges."""
        model = parse_bytes((data_dir / "parser_greek_grouped.md").read_bytes()).models[0]
        edges = [(c.source, c.operator, c.target, c.directed, c.label, c.line)
                 for c in model.connections]
        assert edges == [
            ("D", ">", "s", True, None, 33),
            ("s", ">", "B", True, None, 34),
            ("u", ">", "B", True, None, 34),
            ("B", "->", "s_t+1", True, None, 35),
            ("s", "-", "A", False, None, 36),
            ("A", "-", "o", False, None, 37),
            ("γ", ">", "π", True, "precision", 38),
            ("G", ">", "π", True, None, 39),
            ("γ", ">", "π", True, None, 39),
            ("π", "->", "u", True, None, 40),
            ("π", "->", "B", True, None, 40),
            ("s", "<->", "s", False, None, 41),
            ("o", "|", "s", True, None, 42),
        ]

    def test_cross_product(self) -> None:
        """(a, b) > (c, d) gives four edges, sources first."""
        model = only(model_text(Connections="(a, b) > (c, d)"))
        assert [(c.source, c.target) for c in model.connections] == [
            ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]

    @pytest.mark.parametrize(
        ("line", "fragment"),
        [
            ("a>", "is not a name"),
            (">b", "is not a name"),
            ("a b", "no operator"),
            ("a=b", "no operator"),
            ("a>b:bad-label", "label"),
            ("(a,)>b", "is not a name"),
            ("a>>b", "is not a name"),
        ],
    )
    def test_bad_lines(self, line: str, fragment: str) -> None:
        """A line that is not an edge is GNN-E005 at its line, saying what is wrong."""
        model = only(model_text(Connections=f"x>y\n{line}"))
        assert codes_of(model.findings) == [("GNN-E005", 8)]
        assert fragment in model.findings[0].message
        assert len(model.connections) == 1


class TestParameters:
    """InitialParameterization statements."""

    def test_file_values(self, data_dir: Path) -> None:
        """Multi-line literals with comments and blank lines inside are read with shapes."""
        model = parse_bytes((data_dir / "parser_greek_grouped.md").read_bytes()).models[0]
        params = {p.name: p for p in model.parameters}
        assert (params["A"].line, params["A"].end_line, params["A"].shape) == (46, 52, (3, 3))
        assert "# a comment" not in params["A"].raw
        assert "row 2" not in params["A"].raw
        assert params["B"].shape == (2, 3, 3)
        assert params["γ"].value == (1.0,)
        assert params["D"].shape == (1, 3)
        assert (params["nr_agents"].value, params["nr_agents"].shape) == (3.0, ())
        assert params["message_passing"].value is None
        assert params["message_passing"].raw == "clustered_mean_field"

    def test_unterminated(self) -> None:
        """A literal still open at the end of the section is GNN-E103 at its first line."""
        model = only(model_text(InitialParameterization="ok=(1)\nB={\n  (1, 2),\n  (3, 4)",
                                Time="Dynamic"))
        assert codes_of(model.findings) == [("GNN-E103", 8)]
        assert "'B'" in model.findings[0].message
        assert model.parameters[-1].value is None
        assert model.time[0].key == "Dynamic"

    def test_bad_line(self) -> None:
        """A line without name= is GNN-E105."""
        model = only(model_text(InitialParameterization="A=(1)\n(2, 3)\n# fine\n\n"))
        assert codes_of(model.findings) == [("GNN-E105", 8)]

    def test_non_numeric_values(self) -> None:
        """Lists, JSON-like and bad {...} values are kept as text with value None."""
        model = only(model_text(InitialParameterization=(
            "ids=[up, down]\nc=[{\"name\":\"left\"}]\nbad={(1, x)}\nragged={(1,2),(3)}")))
        values = {p.name: (p.value, p.shape, p.ragged) for p in model.parameters}
        assert values["ids"] == (None, None, False)
        assert values["c"] == (None, None, False)
        assert values["bad"] == (None, None, False)
        assert values["ragged"] == (((1.0, 2.0), 3.0), None, True)
        assert model.findings == ()


class TestOtherSections:
    """Time, ActInfOntologyAnnotation and ModelParameters."""

    def test_time(self) -> None:
        """Time items are key=value or words; odd lines are GNN-W111."""
        model = only(model_text(Time="Time=t\nDynamic # c\nModelTimeHorizon=10\nWeird\n"
                                     "two words\nFoo=1"))
        assert [(t.key, t.value) for t in model.time] == [
            ("Time", "t"), ("Dynamic", None), ("ModelTimeHorizon", "10"), ("Weird", None),
            ("Foo", "1")]
        assert codes_of(model.findings) == [
            ("GNN-W111", 10), ("GNN-W111", 11), ("GNN-W111", 12)]

    def test_annotations(self) -> None:
        """Inline comments are cut from ontology terms; odd lines are skipped."""
        model = only(model_text(ActInfOntologyAnnotation=(
            "π=PolicyVector # Distribution over actions\n\nu=Action ### c\nnot an annotation")))
        assert [(a.name, a.term, a.line) for a in model.annotations] == [
            ("π", "PolicyVector", 7), ("u", "Action", 9)]
        assert model.findings == ()

    def test_model_parameters(self) -> None:
        """key: value and key=value are read with comments cut; odd lines are GNN-W110."""
        model = only(model_text(ModelParameters=(
            "num_obs: 3  # o[3]\n# comment\naction_labels: up,down,left\nnr_agents=2\n"
            "num_obs: 4\nno separator here")))
        assert [(p.key, p.value) for p in model.model_parameters] == [
            ("num_obs", "3"), ("action_labels", "up,down,left"), ("nr_agents", "2"),
            ("num_obs", "4")]
        assert codes_of(model.findings) == [("GNN-W110", 12)]


class TestGeneratedFiles:
    """Generated GNN files parse into the expected number of models."""

    @settings(max_examples=60, deadline=None)
    @given(strategies.gnn_texts())
    def test_models(self, text: str) -> None:
        """Every generated model is found, with no E102/E104/E005 findings."""
        gnn = parse_text(text)
        assert len(gnn.models) == text.count("# GNN Example:")
        for model in gnn.models:
            assert model.name is not None
            assert not {"GNN-E102", "GNN-E104", "GNN-E005"} & {f.code for f in model.findings}


def _manifest(corpus: Path) -> dict[str, dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle, delimiter="\t")}


@pytest.mark.corpus
class TestCorpus:
    """Every corpus file parses, with the MANIFEST's counts."""

    def test_every_file(self, corpus_dir: Path) -> None:
        """All files parse into one model with no parser finding; counts match MANIFEST.

        The MANIFEST counts every declaration (also the ones the reference drops, such as
        γ, ω, β and s_t+1) and counts connection *lines*: a grouped line ``(a, b)>c`` is one
        MANIFEST connection but two expanded edges here.
        """
        manifest = _manifest(corpus_dir)
        assert len(manifest) == 30
        expanded_extra = {}
        for rel, row in manifest.items():
            gnn = parse_bytes((corpus_dir / rel).read_bytes())
            assert gnn.findings == (), rel
            (model,) = gnn.models
            assert model.findings == (), rel
            assert len(model.variables) == int(row["n_variables"]), rel
            assert len({c.line for c in model.connections}) == int(row["n_connections"]), rel
            extra = len(model.connections) - int(row["n_connections"])
            if extra:
                expanded_extra[rel] = extra
        assert expanded_extra == {
            "gnn_files/discrete/time_varying_dynamics.md": 1,
            "gnn_files/structured/factorized_posterior.md": 2,
        }

    def test_actinf_pomdp_agent(self, corpus_dir: Path) -> None:
        """The canonical example has 13 variables, 11 connections and its name."""
        data = (corpus_dir / "gnn_files/discrete/actinf_pomdp_agent.md").read_bytes()
        model = parse_bytes(data).models[0]
        assert (len(model.variables), len(model.connections)) == (13, 11)
        assert model.name == "Active Inference POMDP Agent"
        assert {p.name: p.shape for p in model.parameters} == {
            "A": (3, 3), "B": (3, 3, 3), "C": (1, 3), "D": (1, 3), "E": (1, 3)}
        assert model.annotations[10].term == "PolicyVector"

    def test_n64_literal(self, corpus_dir: Path) -> None:
        """The 2.6 MB literal of the N64 scaling file has its declared shape."""
        path = corpus_dir / "gnn_files/pymdp_scaling_study/pymdp_scaling_N64_T100.md"
        model = parse_bytes(path.read_bytes()).models[0]
        declared = model.variable("B")
        assert declared is not None
        assert declared.dims == (64, 64, 64)
        shapes = {p.name: p.shape for p in model.parameters}
        assert shapes["B"] == (64, 64, 64)
        assert shapes["A"] == (64, 64)

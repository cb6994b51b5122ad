"""Metadata extraction, structural signatures, structural diffs and version bumps."""

from __future__ import annotations

import hashlib
import json

import pytest

from registry.gnn import (
    StructuralDiff,
    bump_kind,
    diff_structures,
    extract,
    parse_text,
    signature,
    structure,
)
from registry.gnn.model import GnnModel
from tests.test_gnn_codes import BASE, appended, with_section

FRONT = """---
version: 2.3.0
tags: [pomdp, test]
author: Ada Modeller
license: CC-BY-4.0
description: A model with front matter.
depends_on: [base_model]
derived_from:
  - older_model
---
"""


def model_of(text: str) -> GnnModel:
    """The first model of ``text``."""
    return parse_text(text).models[0]


def meta(text: str) -> dict[str, object]:
    """``extract`` of the first model of ``text``, with the text's real SHA-256."""
    gnn = parse_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return extract(gnn, gnn.models[0], sha256=digest)


class TestExtract:
    """extract() gives the documented JSON-ready fields."""

    def test_fields_from_sections(self) -> None:
        """Names, counts, dimensions, types, ontology, parameters and time come from sections."""
        data = meta(BASE)
        assert data["model_name"] == "Validation Base Model"
        assert data["gnn_section"] == "ValidationBase"
        assert data["language_version"] == "1"
        assert data["variables"] == 6
        assert data["connections"] == 4
        assert data["dimensions"] == {"A": [2, 2], "B": [2, 2, 2], "s": [2, 1], "o": [2, 1],
                                      "u": [1], "t": [1]}
        assert data["types"]["o"] == "int"
        assert data["ontology"]["B"] == "TransitionMatrix"
        assert data["model_parameters"] == {"num_obs": "2", "num_actions": "2"}
        assert data["time"] == {"Time": "t", "Dynamic": None, "Discrete": None}
        assert data["sections"][:3] == ["GNNSection", "GNNVersionAndFlags", "ModelName"]
        assert data["sha256"] == hashlib.sha256(BASE.encode()).hexdigest()
        assert data["model_index"] == 0
        assert data["model_count"] == 1

    def test_no_front_matter_defaults(self) -> None:
        """Without front matter: no declared version, empty lists, description from annotation."""
        data = meta(BASE)
        assert data["declared_version"] is None
        assert data["tags"] == []
        assert data["depends_on"] == []
        assert data["author"] is None
        assert data["description"] == ("A two-state model written for the validator tests. "
                                       "Every variable is connected and every term is known.")

    def test_front_matter_fields(self) -> None:
        """Front matter gives version, tags, author, licence, description and relations."""
        data = meta(FRONT + BASE)
        assert data["declared_version"] == "2.3.0"
        assert data["tags"] == ["pomdp", "test"]
        assert data["author"] == "Ada Modeller"
        assert data["license"] == "CC-BY-4.0"
        assert data["description"] == "A model with front matter."
        assert data["depends_on"] == ["base_model"]
        assert data["derived_from"] == ["older_model"]

    def test_description_trimmed_to_500(self) -> None:
        """A long annotation paragraph is cut to 500 characters."""
        long_text = with_section(BASE, "ModelAnnotation", "word " * 300)
        description = meta(long_text)["description"]
        assert isinstance(description, str)
        assert len(description) <= 500
        assert description.startswith("word word")

    def test_model_parameters_last_wins(self) -> None:
        """A repeated ModelParameters key keeps its last value."""
        data = meta(appended(BASE, "ModelParameters", "num_obs: 64"))
        assert data["model_parameters"]["num_obs"] == "64"  # type: ignore[index]

    def test_grouped_edge_counts_once(self) -> None:
        """A grouped edge statement counts as one connection, as in the reference."""
        text = appended(BASE, "Connections", "(s, u)>o")
        assert meta(text)["connections"] == 5

    def test_json_ready(self) -> None:
        """The metadata survives a JSON round trip unchanged."""
        data = meta(FRONT + BASE)
        assert json.loads(json.dumps(data)) == data

    def test_missing_model_name_is_none(self) -> None:
        """Without a ModelName section the name is None."""
        text = BASE.replace("## ModelName\nValidation Base Model\n", "")
        assert meta(text)["model_name"] is None


class TestSignature:
    """signature() fingerprints names and edges, not sizes or values."""

    def test_sizes_and_values_do_not_matter(self) -> None:
        """Changing dimensions, types and literals keeps the signature."""
        other = BASE.replace("A[2,2,type=float]", "A[5,7,type=int]")
        other = other.replace("A={(0.9, 0.1), (0.1, 0.9)}", "A={(0.5, 0.5), (0.5, 0.5)}")
        assert signature(model_of(other)) == signature(model_of(BASE))

    def test_edges_and_names_matter(self) -> None:
        """Adding an edge, reversing a directed edge or renaming a variable changes it."""
        base = signature(model_of(BASE))
        assert signature(model_of(appended(BASE, "Connections", "o>s"))) != base
        assert signature(model_of(BASE.replace("s>B", "B>s"))) != base
        assert signature(model_of(BASE.replace("u[1,", "v[1,"))) != base

    def test_undirected_endpoint_order_does_not_matter(self) -> None:
        """s-A and A-s are the same undirected edge."""
        assert signature(model_of(BASE.replace("s-A", "A-s"))) == signature(model_of(BASE))

    def test_is_hex_sha256(self) -> None:
        """The signature is 64 lowercase hex digits."""
        sig = signature(model_of(BASE))
        assert len(sig) == 64
        assert int(sig, 16) >= 0


def diff_of(old_text: str, new_text: str) -> StructuralDiff:
    """Structural diff of two texts, after a JSON round trip of both structures."""
    old = json.loads(json.dumps(structure(model_of(old_text))))
    new = json.loads(json.dumps(structure(model_of(new_text))))
    return diff_structures(old, new)


class TestDiffAndBump:
    """diff_structures() and bump_kind() follow design.md section 5."""

    def test_identical_is_empty_patch(self) -> None:
        """The same structure gives an empty diff and a patch bump."""
        diff = diff_of(BASE, BASE + "\n")
        assert diff.is_empty
        assert bump_kind(diff) == "patch"

    @pytest.mark.parametrize(("new_text", "kind", "field", "expected"), [
        (BASE.replace("A[2,2,type=float]", "A[2,3,type=float]"), "major",
         "changed_variables", ("A",)),
        (BASE.replace("o[2,1,type=int]", "o[2,1,type=float]"), "major",
         "changed_variables", ("o",)),
        (BASE.replace("u>B\n", ""), "major", "removed_edges", (("u", "B", True),)),
        (appended(appended(BASE, "StateSpaceBlock", "x[2,type=float]"), "Connections", "x>s"),
         "minor", "added_variables", ("x",)),
        (appended(BASE, "Connections", "o>s"), "minor", "added_edges", (("o", "s", True),)),
        (BASE.replace("A={(0.9, 0.1), (0.1, 0.9)}", "A={(0.8, 0.2), (0.2, 0.8)}"), "patch",
         "changed_parameters", ("A",)),
        (BASE.replace("num_obs: 2", "num_obs: 3"), "patch", "other_changes",
         ("model_parameters",)),
        (BASE.replace("u=Action", "u=Control"), "patch", "other_changes", ("ontology",)),
    ])
    def test_change_kinds(self, new_text: str, kind: str, field: str,
                          expected: tuple[object, ...]) -> None:
        """Each kind of change lands in its field and gives the documented bump."""
        diff = diff_of(BASE, new_text)
        assert getattr(diff, field) == expected
        assert bump_kind(diff) == kind

    def test_removed_variable_is_major(self) -> None:
        """Removing a variable (and its edges) is a major change."""
        new_text = BASE.replace("u[1,type=int]\n", "").replace("u>B\n", "")
        new_text = new_text.replace("u=Action\n", "")
        diff = diff_of(BASE, new_text)
        assert diff.removed_variables == ("u",)
        assert bump_kind(diff) == "major"

    def test_whitespace_in_values_is_not_a_change(self) -> None:
        """Re-spacing a literal does not change its parameter digest."""
        new_text = BASE.replace("A={(0.9, 0.1), (0.1, 0.9)}", "A={ (0.9,0.1),\n (0.1,0.9) }")
        assert diff_of(BASE, new_text).changed_parameters == ()

    def test_diff_to_dict_is_json(self) -> None:
        """A diff renders as plain JSON lists."""
        diff = diff_of(BASE, appended(BASE, "Connections", "o>s"))
        assert diff.to_dict()["added_edges"] == [["o", "s", True]]

    def test_older_document_without_keys(self) -> None:
        """A stored structure missing some keys compares as empty for those keys."""
        new = structure(model_of(BASE))
        diff = diff_structures({"variables": new["variables"], "edges": new["edges"]}, new)
        assert diff.changed_parameters == ("A", "B")
        assert bump_kind(diff) == "patch"

"""Search, reference resolution and version diffs over hand-built registry documents."""

from __future__ import annotations

import hashlib

import pytest

from registry.errors import NotFoundError
from registry.gnn import extract, parse_text
from registry.model.query import diff, get_entry, resolve, search
from registry.model.records import VersionRecord
from registry.model.search import Term, parse_query
from tests.test_lifecycle import make_doc, make_entry

POMDP_META = {
    "ontology": {"A": "LikelihoodMatrix", "s": "HiddenState"},
    "dimensions": {"A": [3, 3], "s": [3, 1]},
    "types": {"A": "float", "s": "float"},
    "sections": ["GNNSection", "ModelName", "StateSpaceBlock", "Connections"],
    "gnn_section": "ActInfPOMDP",
}
HMM_META = {
    "ontology": {"B": "TransitionMatrix"},
    "dimensions": {"B": [2, 2]},
    "types": {"B": "float"},
    "sections": ["GNNSection", "ModelName", "StateSpaceBlock", "Equations"],
    "gnn_section": "HMM",
}


@pytest.fixture(name="doc")
def _doc():
    """Four live models, one removed and one deleted."""
    pomdp = make_entry("pomdp_agent", name="Active Inference POMDP Agent",
                       description="A classic POMDP agent", tags=("pomdp", "navigation"),
                       metadata=POMDP_META, versions=("1.0.0", "1.1.0"))
    pomdp.aliases = {"production": "1.0.0"}
    hmm = make_entry("hmm_baseline", name="Hidden Markov Model", tags=("hmm",),
                     description="baseline with hidden state", metadata=HMM_META)
    dep = make_entry("old_pomdp", name="Old POMDP", state="deprecated", tags=("pomdp",),
                     metadata=POMDP_META)
    arch = make_entry("bandit", name="Multi-armed bandit", state="archived")
    gone = make_entry("vanished_pomdp", name="Vanished POMDP", state="removed")
    dead = make_entry("deleted_pomdp", name="Deleted POMDP", tags=("pomdp",))
    dead.deleted = True
    return make_doc(pomdp, hmm, dep, arch, gone, dead)


def ids(entries):
    """The ids of ``entries``."""
    return [e.model_id for e in entries]


class TestParseQuery:
    """The query language is split into free text and field terms."""

    def test_fields_phrases_and_unknown_prefixes(self):
        """Known prefixes are fields, quotes group words, unknown prefixes stay free text."""
        assert parse_query('tag:pomdp "hidden state" Example:x state:"active"') == [
            Term("tag", "pomdp"), Term(None, "hidden state"), Term(None, "Example:x"),
            Term("state", "active")]

    def test_split_terms_keep_their_spaces(self):
        """Already split terms (argv) are each one term, spaces included."""
        assert parse_query(["hidden state", "tag:a b", "var:A"]) == [
            Term(None, "hidden state"), Term("tag", "a b"), Term("var", "A")]


class TestSearch:
    """Free text and field filters, AND by default and OR on request."""

    def test_empty_query_lists_live_models_sorted(self, doc):
        """An empty query returns every non-deleted model sorted by id."""
        assert ids(search(doc, "")) == ["bandit", "hmm_baseline", "old_pomdp", "pomdp_agent",
                                        "vanished_pomdp"]

    def test_free_text_matches_id_name_description_and_tags_case_insensitively(self, doc):
        """A bare word matches any of id, name, description, tags, ignoring case."""
        assert ids(search(doc, "POMDP")) == ["old_pomdp", "pomdp_agent", "vanished_pomdp"]
        assert ids(search(doc, "classic")) == ["pomdp_agent"]
        assert ids(search(doc, "navigation")) == ["pomdp_agent"]
        assert ids(search(doc, "Markov")) == ["hmm_baseline"]

    def test_quoted_phrase_matches_as_a_whole(self, doc):
        """A quoted phrase must appear as written, not word by word."""
        assert ids(search(doc, '"hidden state"')) == ["hmm_baseline"]
        assert ids(search(doc, '"state hidden"')) == []

    def test_deleted_models_are_never_returned(self, doc):
        """Tombstoned models never appear, whatever the query."""
        assert "deleted_pomdp" not in ids(search(doc, "deleted"))
        assert "deleted_pomdp" not in ids(search(doc, "id:deleted_pomdp"))

    def test_removed_models_can_be_left_out(self, doc):
        """include_removed=False drops models whose file is gone."""
        assert ids(search(doc, "pomdp", include_removed=False)) == ["old_pomdp", "pomdp_agent"]

    @pytest.mark.parametrize(("query", "expected"), [
        ("tag:pomdp", ["old_pomdp", "pomdp_agent"]),
        ("tag:POMDP", ["old_pomdp", "pomdp_agent"]),
        ("tag:pom", []),
        ("state:deprecated", ["old_pomdp"]),
        ("state:removed", ["vanished_pomdp"]),
        ("ontology:hiddenstate", ["old_pomdp", "pomdp_agent"]),
        ("ontology:TransitionMatrix", ["hmm_baseline"]),
        ("var:B", ["hmm_baseline"]),
        ("var:b", []),
        ("section:Equations", ["hmm_baseline"]),
        ("section:actinfpomdp", ["old_pomdp", "pomdp_agent"]),
        ("alias:production", ["pomdp_agent"]),
        ("id:bandit", ["bandit"]),
        ("id:*pomdp*", ["old_pomdp", "pomdp_agent", "vanished_pomdp"]),
        ("name:bandit", ["bandit"]),
    ])
    def test_field_filters(self, doc, query, expected):
        """Each field filter matches only its own field."""
        assert ids(search(doc, query)) == expected

    def test_terms_combine_with_and_by_default(self, doc):
        """Several terms must all match unless any_match is set."""
        assert ids(search(doc, "tag:pomdp state:active")) == ["pomdp_agent"]
        assert ids(search(doc, "tag:pomdp tag:hmm")) == []

    def test_any_match_combines_with_or(self, doc):
        """With any_match a model matching one term is enough."""
        assert ids(search(doc, "tag:hmm state:archived", any_match=True)) == [
            "bandit", "hmm_baseline"]

    def test_unknown_state_is_an_error(self, doc):
        """A misspelt state is reported rather than matching nothing."""
        with pytest.raises(NotFoundError, match="unknown state 'activ'"):
            search(doc, "state:activ")

    def test_argv_terms(self, doc):
        """A list of terms behaves like the same terms in a string."""
        assert ids(search(doc, ["hidden state"])) == ["hmm_baseline"]
        assert ids(search(doc, ["tag:pomdp", "state:deprecated"])) == ["old_pomdp"]


class TestResolve:
    """ID, ID@VERSION, ID@ALIAS and ID@latest."""

    @pytest.mark.parametrize(("ref", "version"), [
        ("pomdp_agent", "1.1.0"), ("pomdp_agent@latest", "1.1.0"),
        ("pomdp_agent@1.0.0", "1.0.0"), ("pomdp_agent@production", "1.0.0"),
    ])
    def test_forms(self, doc, ref, version):
        """Each reference form names the expected version."""
        entry, rec = resolve(doc, ref)
        assert entry.model_id == "pomdp_agent"
        assert rec.version == version

    @pytest.mark.parametrize(("ref", "message"), [
        ("nope", "no model 'nope'"),
        ("deleted_pomdp", "no model 'deleted_pomdp'"),
        ("pomdp_agent@9.9.9", r"no version 9\.9\.9 \(versions: 1\.0\.0, 1\.1\.0\)"),
        ("pomdp_agent@champion", r"no version or alias 'champion' \(aliases: latest, "
                                 r"production\)"),
    ])
    def test_missing_is_not_found(self, doc, ref, message):
        """Unknown models, versions and aliases raise NotFoundError with a clear message."""
        with pytest.raises(NotFoundError, match=message):
            resolve(doc, ref)

    def test_get_entry_can_see_deleted_for_audit(self, doc):
        """get_entry hides deleted models unless asked to include them."""
        with pytest.raises(NotFoundError):
            get_entry(doc, "deleted_pomdp")
        assert get_entry(doc, "deleted_pomdp", include_deleted=True).deleted


BASE = """## GNNSection
Test
## GNNVersionAndFlags
GNN v1
## ModelName
Diff model
## StateSpaceBlock
{vars}
## Connections
{edges}
## InitialParameterization
A={a}
## Time
Static
## ActInfOntologyAnnotation
A=LikelihoodMatrix
## Footer
end
"""


def version_from(text: str, version: str, index: int) -> VersionRecord:
    """A version record whose metadata is extracted from real GNN text."""
    sha = hashlib.sha256(text.encode()).hexdigest()
    gnn = parse_text(text)
    return VersionRecord(version=version, sha256=sha,
                         registered_at=f"2026-02-0{index + 1}T00:00:00.000000Z",
                         file_path="/m/diff.md", file_size_bytes=len(text), change="initial",
                         metadata=extract(gnn, gnn.models[0], sha256=sha))


@pytest.fixture(name="diff_doc")
def _diff_doc():
    """One model with four versions: base, param edit, added var, changed dims + removed edge."""
    v1 = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]",
                     edges="s>A\nA>o", a="{(1,0),(0,1)}")
    v2 = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]",
                     edges="s>A\nA>o", a="{(0.9,0.1),(0.1,0.9)}")
    v3 = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]\n"
                          "u[2,type=int]", edges="s>A\nA>o\nu>s", a="{(0.9,0.1),(0.1,0.9)}")
    v4 = BASE.format(vars="A[3,2,type=float]\ns[2,1,type=float]\no[3,1,type=int]",
                     edges="s>A", a="{(0.9,0.1),(0.1,0.9),(0,0)}")
    entry = make_entry("dm", versions=("1.0.0",))
    entry.versions = [version_from(t, v, i) for i, (t, v) in
                      enumerate([(v1, "1.0.0"), (v2, "1.0.1"), (v3, "1.1.0"), (v4, "2.0.0")])]
    entry.version = "2.0.0"
    entry.aliases = {"stable": "1.0.1"}
    return make_doc(entry)


class TestDiff:
    """Structural diffs between two versions, with the implied bump."""

    def test_parameter_edit_is_a_patch(self, diff_doc):
        """Changing a parameter value reports that parameter and a patch bump."""
        result = diff(diff_doc, "dm", "1.0.0", "1.0.1")
        assert result["parameters"] == {"added": [], "removed": [], "changed": ["A"]}
        assert result["variables"] == {"added": [], "removed": [], "changed": []}
        assert result["bump"] == "patch"
        assert not result["identical"]

    def test_added_variable_and_edge_is_minor(self, diff_doc):
        """An added variable and edge are listed with their dims and imply a minor bump."""
        result = diff(diff_doc, "dm", "stable", "1.1.0")
        assert result["from"] == "1.0.1"
        assert result["variables"]["added"] == [{"name": "u", "dims": [2], "type": "int"}]
        assert result["edges"]["added"] == [{"source": "u", "target": "s", "directed": True}]
        assert result["bump"] == "minor"

    def test_changed_dims_and_removed_edge_is_major(self, diff_doc):
        """Changed dimensions show old and new dims; a removed edge implies a major bump."""
        result = diff(diff_doc, "dm", "1.0.1", "latest")
        assert {"name": "A", "old": {"dims": [2, 2], "type": "float"},
                "new": {"dims": [3, 2], "type": "float"}} in result["variables"]["changed"]
        assert result["edges"]["removed"] == [{"source": "A", "target": "o", "directed": True}]
        assert result["bump"] == "major"

    def test_same_version_is_identical(self, diff_doc):
        """A version compared with itself is identical and implies no bump."""
        result = diff(diff_doc, "dm", "1.0.0", "1.0.0")
        assert result["identical"]
        assert result["bump"] == "none"

    def test_pruned_or_missing_versions_are_not_found(self, diff_doc):
        """Diffing a pruned or unknown version raises NotFoundError."""
        diff_doc.models["dm"].versions[0].pruned = True
        with pytest.raises(NotFoundError, match="pruned"):
            diff(diff_doc, "dm", "1.0.0", "1.0.1")
        with pytest.raises(NotFoundError, match=r"no version 3\.0\.0"):
            diff(diff_doc, "dm", "1.0.1", "3.0.0")

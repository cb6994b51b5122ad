"""Relationships: declared, same_family, same_file, renamed_from, queried both ways."""

from __future__ import annotations

import pytest

from registry.errors import NotFoundError
from registry.model import relations
from registry.model.records import Relationship
from tests.test_lifecycle import make_doc, make_entry


def rels(doc, model_id):
    """(type, target) pairs of ``model_id``."""
    return [(r.type, r.target) for r in doc.models[model_id].relationships]


class TestDeclared:
    """depends_on / derived_from from the current version's front matter."""

    def test_resolves_by_id_name_and_file_stem(self):
        """References by id, by model name (any case) and by file stem resolve to ids."""
        doc = make_doc(
            make_entry("base", name="Base Agent"),
            make_entry("other_id", file_path="/x/legacy_file.md"),
            make_entry("tool"),
            make_entry("user", metadata={"depends_on": ["tool", "base agent"],
                                         "derived_from": ["legacy_file"]}),
        )
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on", "base"), ("depends_on", "tool"),
                                     ("derived_from", "other_id")]

    def test_unresolved_reference_is_kept_and_resolves_later(self):
        """A reference to no model is kept as *_unresolved text and resolves once registered."""
        doc = make_doc(make_entry("user", metadata={"depends_on": "future model"}))
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on_unresolved", "future model")]
        doc.models["future"] = make_entry("future", name="Future Model")
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on", "future")]

    def test_ambiguous_name_stays_unresolved_unless_one_is_live(self):
        """Two models with one name do not resolve, unless only one of them is not removed."""
        doc = make_doc(make_entry("a", name="Twin"), make_entry("b", name="Twin"),
                       make_entry("user", metadata={"depends_on": ["Twin"]}))
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on_unresolved", "Twin")]
        doc.models["a"].state = "removed"
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on", "b")]

    def test_self_reference_and_deleted_targets_are_ignored(self):
        """A model never points at itself, and deleted models never match a reference."""
        gone = make_entry("gone")
        gone.deleted = True
        doc = make_doc(gone, make_entry("me", metadata={"depends_on": ["me", "gone"]}))
        relations.refresh_relationships(doc)
        assert rels(doc, "me") == [("depends_on_unresolved", "gone")]

    def test_uses_the_current_version_metadata(self):
        """Declarations are read from the current version, not from older ones."""
        entry = make_entry("user", versions=("1.0.0", "2.0.0"))
        entry.versions[0].metadata = {"depends_on": ["old"]}
        entry.versions[1].metadata = {"depends_on": ["new"]}
        doc = make_doc(make_entry("old"), make_entry("new"), entry)
        relations.refresh_relationships(doc)
        assert rels(doc, "user") == [("depends_on", "new")]


class TestStructural:
    """same_family (same signature) and same_file (one multi-model file)."""

    def test_same_family_links_models_with_one_signature(self):
        """Models sharing a signature are linked both ways; others and removed ones are not."""
        sig = {"signature": "s1"}
        doc = make_doc(make_entry("n4", metadata=sig), make_entry("n8", metadata=sig),
                       make_entry("n16", metadata=sig), make_entry("other",
                                                                   metadata={"signature": "s2"}),
                       make_entry("gone", metadata=sig, state="removed"))
        relations.refresh_relationships(doc)
        assert rels(doc, "n4") == [("same_family", "n16"), ("same_family", "n8")]
        assert rels(doc, "n16") == [("same_family", "n4"), ("same_family", "n8")]
        assert rels(doc, "other") == []
        assert rels(doc, "gone") == []

    def test_same_file_links_models_split_from_one_file(self):
        """Models with the same file path are linked to each other."""
        doc = make_doc(make_entry("multi", file_path="/m/multi.md"),
                       make_entry("multi--2", file_path="/m/multi.md"),
                       make_entry("solo"))
        relations.refresh_relationships(doc)
        assert rels(doc, "multi") == [("same_file", "multi--2")]
        assert rels(doc, "multi--2") == [("same_file", "multi")]
        assert rels(doc, "solo") == []

    def test_large_family_becomes_a_star(self):
        """A family bigger than MESH_LIMIT is linked through its smallest id only."""
        n = relations.MESH_LIMIT + 3
        ids = [f"m{i:03d}" for i in range(n)]
        doc = make_doc(*[make_entry(i, metadata={"signature": "big"}) for i in ids])
        relations.refresh_relationships(doc)
        assert len(doc.models[ids[0]].relationships) == n - 1
        assert rels(doc, ids[5]) == [("same_family", ids[0])]
        total = sum(len(e.relationships) for e in doc.models.values())
        assert total == 2 * (n - 1)

    def test_signature_changes_are_followed(self):
        """A model whose signature changes leaves its old family on the next refresh."""
        doc = make_doc(make_entry("a", metadata={"signature": "s"}),
                       make_entry("b", metadata={"signature": "s"}))
        relations.refresh_relationships(doc)
        assert rels(doc, "a") == [("same_family", "b")]
        doc.models["b"].versions[-1].metadata = {"signature": "t"}
        relations.refresh_relationships(doc)
        assert rels(doc, "a") == []


class TestRefresh:
    """Refresh keeps scanner-owned edges and is deterministic."""

    def test_renamed_from_is_kept(self):
        """renamed_from edges added by the scanner survive every refresh."""
        entry = make_entry("m")
        entry.relationships = [Relationship("renamed_from", "/old/place/m.md")]
        doc = make_doc(entry)
        relations.refresh_relationships(doc)
        relations.refresh_relationships(doc)
        assert rels(doc, "m") == [("renamed_from", "/old/place/m.md")]

    def test_refresh_is_idempotent_and_sorted(self):
        """Refreshing twice yields the same sorted JSON."""
        sig = {"signature": "s", "depends_on": ["z", "a"]}
        doc = make_doc(make_entry("z", metadata=sig), make_entry("a", metadata=sig),
                       make_entry("k", metadata=sig))
        relations.refresh_relationships(doc)
        first = doc.to_dict()
        relations.refresh_relationships(doc)
        assert doc.to_dict() == first
        pairs = rels(doc, "k")
        assert pairs == sorted(pairs)

    def test_deleted_model_loses_computed_edges(self):
        """A deleted model keeps no computed relationship and no one points at it."""
        sig = {"signature": "s"}
        doc = make_doc(make_entry("a", metadata=sig), make_entry("b", metadata=sig))
        relations.refresh_relationships(doc)
        doc.models["b"].deleted = True
        relations.refresh_relationships(doc)
        assert rels(doc, "a") == []
        assert rels(doc, "b") == []


class TestRelated:
    """related() answers both directions."""

    def test_outgoing_and_incoming(self):
        """Declared edges appear outgoing at the source and incoming at the target."""
        doc = make_doc(make_entry("base", name="Base"),
                       make_entry("user", metadata={"depends_on": ["base"]}),
                       make_entry("kid", metadata={"derived_from": ["base"]}))
        relations.refresh_relationships(doc)
        base = relations.related(doc, "base")
        assert base["outgoing"] == []
        assert [(r["type"], r["source"]) for r in base["incoming"]] == [
            ("depends_on", "user"), ("derived_from", "kid")]
        user = relations.related(doc, "user")
        assert user["outgoing"] == [{"type": "depends_on", "target": "base", "resolved": True,
                                     "model_name": "Base", "state": "active"}]

    def test_unresolved_target_is_marked(self):
        """An edge whose target is not a model says so."""
        doc = make_doc(make_entry("user", metadata={"depends_on": ["nowhere"]}))
        relations.refresh_relationships(doc)
        out = relations.related(doc, "user")["outgoing"]
        assert out == [{"type": "depends_on_unresolved", "target": "nowhere", "resolved": False}]

    def test_unknown_or_deleted_model_is_not_found(self):
        """related() refuses unknown and deleted models."""
        entry = make_entry("m")
        entry.deleted = True
        doc = make_doc(entry)
        with pytest.raises(NotFoundError):
            relations.related(doc, "m")
        with pytest.raises(NotFoundError):
            relations.related(doc, "nope")


class TestScopedRefresh:
    """A service batch refreshes only the touched files and families; the result is what a
    full refresh of the whole registry gives."""

    def test_scoped_refresh_matches_a_full_refresh(self, tmp_path):
        import copy  # noqa: PLC0415

        from registry.model.records import RegistryDoc  # noqa: PLC0415
        from registry.model.relations import refresh_relationships  # noqa: PLC0415
        from registry.scanning.scan import Scanner  # noqa: PLC0415
        from tests.test_scan import config_for, gnn_text, load, write  # noqa: PLC0415

        models = tmp_path / "models"
        paths = [write(models / f"f{i}.md", gnn_text(f"F{i}", annotation=f"Member {i}."))
                 for i in range(4)]
        write(models / "other.md", gnn_text("Other", variables=("A[2,2,type=float]",
                                                                "s[2,1,type=float]")))
        scanner = Scanner(config_for(tmp_path, directories=[models]), actor="service")
        scanner.reconcile([models])
        family = {("same_family", f"f{i}") for i in (1, 2, 3)}
        assert {(r.type, r.target) for r in load(tmp_path).models["f0"].relationships} == family
        # f2 leaves the family (a new variable), f3 moves to another name.
        write(paths[2], gnn_text("F2", variables=("A[3,3,type=float]", "s[3,1,type=float]",
                                                  "o[3,1,type=float]", "x[2,type=float]")),
              age=1000)
        moved = models / "f3_moved.md"
        paths[3].rename(moved)
        report = scanner.process_paths([paths[2], paths[3], moved])
        assert {o.status for o in report.outcomes} >= {"updated", "renamed"}
        doc = load(tmp_path)
        scoped = {mid: [(r.type, r.target) for r in doc.models[mid].relationships]
                  for mid in doc.models}
        assert ("same_family", "f2") not in scoped["f0"]
        assert ("same_family", "f3") in scoped["f0"]
        assert not [r for r in scoped["f2"] if r[0] == "same_family"]
        full = RegistryDoc(models={m: copy.deepcopy(doc.models[m]) for m in doc.models})
        refresh_relationships(full)  # the in-memory map: every model recomputed
        assert {m: [(r.type, r.target) for r in full.models[m].relationships]
                for m in full.models} == scoped

"""Lifecycle and curation rules: states, aliases, tags, deletion, version pruning."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from registry.config import Config
from registry.errors import NotFoundError, TransitionError
from registry.model import lifecycle
from registry.model.pruning import doc_size
from registry.model.records import ModelEntry, RegistryDoc, VersionRecord

ACTOR = "tester"


def make_version(model_id: str, version: str, index: int, *,
                 metadata: dict[str, Any] | None = None) -> VersionRecord:
    """A version record with a deterministic hash and registration time."""
    return VersionRecord(
        version=version,
        sha256=hashlib.sha256(f"{model_id}@{version}".encode()).hexdigest(),
        registered_at=f"2026-01-{index + 1:02d}T00:00:00.000000Z",
        file_path=f"/models/{model_id}.md",
        file_size_bytes=100 + index,
        change="initial" if index == 0 else "minor",
        metadata=dict(metadata or {}),
        findings=[{"code": "GNN-W001", "severity": "warning", "line": 3, "message": "m"}],
    )


def make_entry(model_id: str, *, versions: tuple[str, ...] = ("1.0.0",),
               state: str = "active", name: str | None = None, file_path: str | None = None,
               tags: tuple[str, ...] = (), description: str = "",
               metadata: dict[str, Any] | None = None) -> ModelEntry:
    """A model entry whose current version is the last of ``versions``."""
    records = [make_version(model_id, v, i, metadata=metadata) for i, v in enumerate(versions)]
    if file_path is not None:
        for rec in records:
            rec.file_path = file_path
    return ModelEntry(
        model_id=model_id,
        model_name=name or model_id.replace("_", " ").title(),
        file_path=file_path or f"/models/{model_id}.md",
        file_size_bytes=100,
        registered_at=records[0].registered_at,
        updated_at=records[-1].registered_at,
        version=versions[-1],
        state=state,  # type: ignore[arg-type]
        tags=list(tags),
        description=description,
        metadata=dict(metadata or {}),
        versions=records,
        sha256=records[-1].sha256,
    )


def make_doc(*entries: ModelEntry) -> RegistryDoc:
    """A registry document holding ``entries``."""
    return RegistryDoc(models={e.model_id: e for e in entries})


class TestSetState:
    """Manual state transitions follow the documented table."""

    @pytest.mark.parametrize(("start", "target"), [
        ("active", "deprecated"), ("active", "archived"), ("deprecated", "active"),
        ("deprecated", "archived"), ("archived", "active"), ("archived", "deprecated"),
    ])
    def test_allowed_transitions_change_state_and_record_history(self, start, target):
        """Every allowed transition changes the state and records from, to, actor and reason."""
        entry = make_entry("m", state=start)
        lifecycle.set_state(entry, target, actor=ACTOR, reason="because")
        assert entry.state == target
        event = entry.history[-1].to_dict()
        assert event["event"] == "state_changed"
        assert (event["from"], event["to"]) == (start, target)
        assert event["actor"] == ACTOR
        assert event["reason"] == "because"
        assert entry.updated_at == event["at"]

    @pytest.mark.parametrize("state", ["active", "deprecated", "archived"])
    def test_same_state_is_refused(self, state):
        """Asking for the state a model already has is refused with a clear message."""
        entry = make_entry("m", state=state)
        with pytest.raises(TransitionError, match=f"already {state}"):
            lifecycle.set_state(entry, state, actor=ACTOR, reason="r")
        assert entry.history == []

    @pytest.mark.parametrize(("start", "target"), [
        ("active", "removed"), ("removed", "active"), ("removed", "archived"),
    ])
    def test_removed_is_not_reachable_by_hand(self, start, target):
        """Transitions to or from removed are refused, naming the scanner rule."""
        entry = make_entry("m", state=start)
        with pytest.raises(TransitionError, match="only by the scanner"):
            lifecycle.set_state(entry, target, actor=ACTOR, reason="r")
        assert entry.state == start
        assert entry.history == []

    def test_unknown_state_is_refused(self):
        """A state name outside the four known states is refused and listed."""
        entry = make_entry("m")
        with pytest.raises(TransitionError, match="unknown state 'retired'"):
            lifecycle.set_state(entry, "retired", actor=ACTOR, reason="r")

    def test_blank_reason_is_refused(self):
        """A state change needs a non-blank reason."""
        entry = make_entry("m")
        with pytest.raises(TransitionError, match="reason is required"):
            lifecycle.set_state(entry, "deprecated", actor=ACTOR, reason="  ")

    def test_deleted_model_cannot_change(self):
        """A tombstoned model refuses state changes."""
        entry = make_entry("m")
        entry.deleted = True
        with pytest.raises(TransitionError, match="deleted"):
            lifecycle.set_state(entry, "archived", actor=ACTOR, reason="r")

    def test_table_never_allows_removed(self):
        """The documented transition table has no manual edge to or from removed."""
        assert lifecycle.TRANSITIONS["removed"] == frozenset()
        assert all("removed" not in targets for targets in lifecycle.TRANSITIONS.values())


class TestRemovedAndReturned:
    """The scanner's hooks for a vanished and a reappearing file."""

    def test_mark_removed_then_returned_goes_back_to_active(self):
        """A deprecated model whose file vanishes is removed, and active when it returns."""
        entry = make_entry("m", state="deprecated")
        assert lifecycle.mark_removed(entry, actor="scan", reason="/models/m.md is gone")
        assert entry.state == "removed"
        assert lifecycle.mark_returned(entry, actor="scan")
        assert entry.state == "active"
        events = [h.to_dict() for h in entry.history]
        assert [(e["event"], e["from"], e["to"]) for e in events] == [
            ("removed", "deprecated", "removed"), ("restored", "removed", "active")]
        assert events[0]["reason"] == "/models/m.md is gone"

    def test_hooks_are_idempotent(self):
        """Marking twice changes nothing the second time and records one event."""
        entry = make_entry("m")
        assert not lifecycle.mark_returned(entry, actor="scan")
        assert lifecycle.mark_removed(entry, actor="scan")
        assert not lifecycle.mark_removed(entry, actor="scan")
        assert len(entry.history) == 1

    def test_deleted_model_is_left_alone(self):
        """A tombstoned model is never marked removed."""
        entry = make_entry("m")
        entry.deleted = True
        assert not lifecycle.mark_removed(entry, actor="scan")
        assert entry.state == "active"


class TestAliases:
    """Aliases are named, recorded pointers to existing versions."""

    def test_move_alias_records_from_and_to(self):
        """Creating then moving an alias records both moves with the previous target."""
        entry = make_entry("m", versions=("1.0.0", "1.1.0"))
        assert lifecycle.move_alias(entry, "production", "1.0.0", actor=ACTOR) is None
        assert lifecycle.move_alias(entry, "production", "1.1.0", actor=ACTOR,
                                    reason="promote") == "1.0.0"
        assert entry.aliases == {"production": "1.1.0"}
        moves = [(e.details["alias"], e.details["from"], e.details["to"], e.reason)
                 for e in entry.history]
        assert moves == [("production", None, "1.0.0", None),
                         ("production", "1.0.0", "1.1.0", "promote")]

    @pytest.mark.parametrize("name", ["1st", "has space", "", "-x", "a/b", "é"])
    def test_malformed_names_are_refused(self, name):
        """Alias names must start with a letter and use letters, digits, _ . - only."""
        entry = make_entry("m")
        with pytest.raises(TransitionError, match="invalid alias name"):
            lifecycle.move_alias(entry, name, "1.0.0", actor=ACTOR)

    @pytest.mark.parametrize("name", ["champion", "v2", "stable.1", "rc-1", "A_b"])
    def test_wellformed_names_are_accepted(self, name):
        """Names matching the alias pattern are accepted."""
        entry = make_entry("m")
        lifecycle.move_alias(entry, name, "1.0.0", actor=ACTOR)
        assert entry.aliases[name] == "1.0.0"

    def test_latest_is_reserved(self):
        """``latest`` can be neither set nor removed."""
        entry = make_entry("m")
        with pytest.raises(TransitionError, match="reserved"):
            lifecycle.move_alias(entry, "latest", "1.0.0", actor=ACTOR)
        with pytest.raises(TransitionError, match="reserved"):
            lifecycle.remove_alias(entry, "latest", actor=ACTOR)

    def test_unknown_version_is_not_found(self):
        """An alias cannot point at a version the model never had."""
        entry = make_entry("m")
        with pytest.raises(NotFoundError, match=r"no version '9\.9\.9'.*1\.0\.0"):
            lifecycle.move_alias(entry, "prod", "9.9.9", actor=ACTOR)
        assert entry.aliases == {}

    def test_pruned_version_is_refused(self):
        """An alias cannot point at a version whose metadata was pruned."""
        entry = make_entry("m", versions=("1.0.0", "2.0.0"))
        entry.versions[0].pruned = True
        with pytest.raises(TransitionError, match="pruned"):
            lifecycle.move_alias(entry, "prod", "1.0.0", actor=ACTOR)

    def test_same_target_is_refused(self):
        """Moving an alias to where it already points is refused."""
        entry = make_entry("m")
        lifecycle.move_alias(entry, "prod", "1.0.0", actor=ACTOR)
        with pytest.raises(TransitionError, match="already points"):
            lifecycle.move_alias(entry, "prod", "1.0.0", actor=ACTOR)
        assert len(entry.history) == 1

    def test_remove_alias(self):
        """Removing an alias drops it and records the version it pointed at."""
        entry = make_entry("m")
        lifecycle.move_alias(entry, "prod", "1.0.0", actor=ACTOR)
        assert lifecycle.remove_alias(entry, "prod", actor=ACTOR, reason="retired") == "1.0.0"
        assert entry.aliases == {}
        last = entry.history[-1].to_dict()
        assert (last["event"], last["alias"], last["from"]) == ("alias_removed", "prod", "1.0.0")

    def test_remove_missing_alias_is_not_found(self):
        """Removing an alias the model does not have is a NotFoundError."""
        with pytest.raises(NotFoundError, match="no alias 'prod'"):
            lifecycle.remove_alias(make_entry("m"), "prod", actor=ACTOR)


class TestTags:
    """Tags are added and removed with a recorded tags_changed event."""

    def test_add_skips_present_tags_and_records_added(self):
        """Adding tags appends only new ones, trimmed and de-duplicated."""
        entry = make_entry("m", tags=("pomdp",))
        assert lifecycle.add_tags(entry, [" vision ", "pomdp", "vision"], actor=ACTOR) == [
            "vision"]
        assert entry.tags == ["pomdp", "vision"]
        event = entry.history[-1].to_dict()
        assert (event["event"], event["added"], event["removed"]) == (
            "tags_changed", ["vision"], [])

    def test_remove_records_removed(self):
        """Removing tags drops only present ones and records them."""
        entry = make_entry("m", tags=("a", "b", "c"))
        assert lifecycle.remove_tags(entry, ["b", "zzz"], actor=ACTOR) == ["b"]
        assert entry.tags == ["a", "c"]
        assert entry.history[-1].details["removed"] == ["b"]

    def test_nothing_to_change_is_refused(self):
        """Adding only present tags, or removing only absent ones, is refused."""
        entry = make_entry("m", tags=("a",))
        with pytest.raises(TransitionError, match="already has"):
            lifecycle.add_tags(entry, ["a"], actor=ACTOR)
        with pytest.raises(TransitionError, match="none of the tag"):
            lifecycle.remove_tags(entry, ["b"], actor=ACTOR)
        assert entry.history == []

    @pytest.mark.parametrize("tag", ["", "   ", "a\nb", "tab\there"])
    def test_invalid_tags_are_refused(self, tag):
        """Blank tags and tags with control characters are refused."""
        with pytest.raises(TransitionError, match="tag"):
            lifecycle.add_tags(make_entry("m"), [tag], actor=ACTOR)


class TestDelete:
    """Deletion is a tombstone that keeps the id and its versions reserved."""

    def test_delete_keeps_entry_as_tombstone(self):
        """A deleted model stays in the document, flagged, with its versions and history."""
        doc = make_doc(make_entry("m", versions=("1.0.0", "2.0.0")))
        lifecycle.delete_model(doc, "m", actor=ACTOR, reason="obsolete")
        entry = doc.models["m"]
        assert entry.deleted
        assert [v.version for v in entry.versions] == ["1.0.0", "2.0.0"]
        event = entry.history[-1].to_dict()
        assert (event["event"], event["reason"], event["version"]) == (
            "deleted", "obsolete", "2.0.0")
        again = RegistryDoc.from_dict(doc.to_dict())
        assert again.models["m"].deleted

    def test_delete_twice_or_unknown_is_not_found(self):
        """Deleting an unknown or already deleted model is a NotFoundError."""
        doc = make_doc(make_entry("m"))
        with pytest.raises(NotFoundError, match="no model 'x'"):
            lifecycle.delete_model(doc, "x", actor=ACTOR)
        lifecycle.delete_model(doc, "m", actor=ACTOR)
        with pytest.raises(NotFoundError):
            lifecycle.delete_model(doc, "m", actor=ACTOR)

    def test_delete_drops_relationships_to_the_deleted_model(self):
        """After deletion no live model keeps a computed edge to the deleted one."""
        meta = {"signature": "sig-1"}
        doc = make_doc(make_entry("a", metadata=meta), make_entry("b", metadata=meta))
        from registry.model.relations import refresh_relationships  # noqa: PLC0415
        refresh_relationships(doc)
        assert [r.target for r in doc.models["a"].relationships] == ["b"]
        lifecycle.delete_model(doc, "b", actor=ACTOR)
        assert doc.models["a"].relationships == []
        assert doc.models["b"].relationships == []

    def test_curating_a_deleted_model_is_refused(self):
        """Aliases and tags cannot be changed on a deleted model."""
        doc = make_doc(make_entry("m"))
        lifecycle.delete_model(doc, "m", actor=ACTOR)
        entry = doc.models["m"]
        with pytest.raises(TransitionError, match="deleted"):
            lifecycle.move_alias(entry, "prod", "1.0.0", actor=ACTOR)
        with pytest.raises(TransitionError, match="deleted"):
            lifecycle.add_tags(entry, ["x"], actor=ACTOR)


BIG = {"structure": {"variables": {f"v{i}": {"dims": [i, i], "type": "float"}
                                   for i in range(60)}}, "note": "x" * 2000}


class TestPrune:
    """Pruning drops metadata of old, unheld versions, oldest first, until the JSON fits."""

    def test_under_the_limit_changes_nothing(self):
        """A registry already under the limit is left untouched."""
        doc = make_doc(make_entry("m", versions=("1.0.0", "2.0.0"), metadata=BIG))
        before = doc.to_dict()
        assert not lifecycle.prune_versions(doc, doc_size(doc) + 10)
        assert doc.to_dict() == before

    def test_prunes_oldest_unheld_versions_first_and_keeps_identity(self):
        """Old versions lose metadata but keep number, sha256 and registration time."""
        entry = make_entry("m", versions=("1.0.0", "1.1.0", "1.2.0", "2.0.0"), metadata=BIG)
        doc = make_doc(entry)
        full = doc_size(doc)
        probe = RegistryDoc.from_dict(doc.to_dict())
        first = probe.models["m"].versions[0]
        first.metadata, first.findings, first.pruned = {}, [], True
        saving = full - doc_size(probe)
        assert lifecycle.prune_versions(doc, full - saving // 2)
        pruned = [v.version for v in entry.versions if v.pruned]
        assert pruned == ["1.0.0"]
        rec = entry.version_record("1.0.0")
        assert rec is not None
        assert rec.metadata == {}
        assert rec.findings == []
        assert rec.sha256 == hashlib.sha256(b"m@1.0.0").hexdigest()
        assert rec.registered_at == "2026-01-01T00:00:00.000000Z"
        event = entry.history[-1].to_dict()
        assert (event["event"], event["versions"]) == ("versions_pruned", ["1.0.0"])

    def test_never_prunes_current_or_aliased_versions(self):
        """Current and aliased versions survive even an impossible limit."""
        entry = make_entry("m", versions=("1.0.0", "1.1.0", "1.2.0", "2.0.0"), metadata=BIG)
        entry.aliases = {"production": "1.0.0"}
        doc = make_doc(entry)
        assert lifecycle.prune_versions(doc, 10)
        kept = {v.version for v in entry.versions if not v.pruned}
        assert kept == {"1.0.0", "2.0.0"}
        assert not lifecycle.prune_versions(doc, 10)

    def test_stops_once_under_the_limit(self):
        """Pruning stops as soon as the JSON fits, leaving newer old versions whole."""
        entries = [make_entry(f"m{i}", versions=("1.0.0", "2.0.0"), metadata=BIG)
                   for i in range(4)]
        doc = make_doc(*entries)
        limit = doc_size(doc) - 100
        assert lifecycle.prune_versions(doc, limit)
        assert doc_size(doc) <= limit
        assert sum(v.pruned for e in entries for v in e.versions) == 1

    def test_hook_follows_the_config_switch(self):
        """The store hook is the pruner only when cleanup_old_versions is on."""
        assert lifecycle.prune_hook_for(Config(cleanup_old_versions=False)) is None
        assert lifecycle.prune_hook_for(
            Config(cleanup_old_versions=True)) is lifecycle.prune_versions

    def test_store_prunes_through_the_hook_when_over_size(self, tmp_path):
        """A store over max_registry_size with cleanup on writes pruned old versions."""
        from structlog.testing import capture_logs  # noqa: PLC0415

        from registry.storage.store import RegistryStore  # noqa: PLC0415

        def entry():
            return make_entry("m", versions=("1.0.0", "1.1.0", "1.2.0", "2.0.0"),
                              metadata=BIG)

        probe = make_doc(entry())
        for rec in probe.models["m"].versions[:-1]:
            rec.metadata, rec.findings, rec.pruned = {}, [], True
        limit = doc_size(probe) + 1000  # room for the history event and the header
        config = Config(output_dir=tmp_path, cleanup_old_versions=True,
                        max_registry_size=limit / (1024 * 1024), write_model_metadata=False)
        store = RegistryStore(config)
        store.prune_hook = lifecycle.prune_hook_for(config)
        with capture_logs() as logs, store.transaction(actor=ACTOR) as doc:
            doc.models["m"] = entry()
        saved = store.load().models["m"]
        assert doc_size(store.load()) <= limit
        assert [v.pruned for v in saved.versions] == [True, True, True, False]
        assert not any(e["event"] == "registry_over_size" for e in logs)

"""Entry and version views of the step-4 API: every method persists across a reload."""

from __future__ import annotations

import hashlib
import json

import pytest

from registry import ModelEntry, ModelRegistry, ModelVersion, process_model_registry
from registry.api_entries import RegistrationError
from registry.errors import NotFoundError, TransitionError
from tests.test_scan import edit, gnn_text, write


@pytest.fixture(name="setup")
def _setup(tmp_path):
    path = write(tmp_path / "m" / "agent.md", gnn_text("Agent", front="tags: [nav]"))
    registry = ModelRegistry(tmp_path / "out")
    assert registry.register_model(path)
    return registry, path


def reopened(registry: ModelRegistry) -> ModelEntry:
    """The agent's entry as a new process would see it (a fresh registry on the same path)."""
    entry = ModelRegistry(registry.registry_path).get_model("agent")
    assert entry is not None
    return entry


class TestEntryAttributes:
    def test_models_mapping_and_attributes(self, setup):
        """``models`` maps id to an entry with the upstream attributes, read from the store."""
        registry, path = setup
        entry = registry.models["agent"]
        assert isinstance(entry, ModelEntry)
        assert (entry.model_id, entry.name, entry.current_version) == ("agent", "Agent", "1.0.0")
        assert entry.description == "A small test model."
        assert entry.tags == ["nav"]
        assert entry.created_at == entry.updated_at
        assert entry.created_at.endswith("Z")
        assert entry.file_path == str(path)
        assert entry.metadata["variables"] == 3
        assert entry.to_dict()["versions"]["1.0.0"]["hash"] == entry.get_version().hash

    def test_version_attributes(self, setup):
        """A version has version, hash (sha256 of the file), created_at and metadata."""
        registry, path = setup
        version = registry.models["agent"].get_version()
        assert isinstance(version, ModelVersion)
        assert version.version == "1.0.0"
        assert version.hash == hashlib.sha256(path.read_bytes()).hexdigest()
        assert version.created_at == registry.models["agent"].created_at
        assert version.metadata["variables"] == 3
        assert version.change == "initial"

    def test_a_view_follows_the_store(self, setup):
        """An entry is a view: a change by another registry object shows after ``load()``."""
        registry, _ = setup
        entry = registry.models["agent"]
        other = ModelRegistry(registry.registry_path)
        assert other.models["agent"].add_tag("seen-elsewhere")
        assert "seen-elsewhere" not in entry.tags
        registry.load()
        assert "seen-elsewhere" in entry.tags

    def test_returned_copies_do_not_change_the_model(self, setup):
        """Mutating the returned lists and dicts changes nothing stored."""
        registry, _ = setup
        entry = registry.models["agent"]
        entry.tags.append("sneaky")
        entry.metadata["sneaky"] = 1
        assert "sneaky" not in entry.tags
        assert "sneaky" not in reopened(registry).metadata


class TestViewBehaviour:
    def test_versions_mapping_and_identity(self, setup):
        """Versions map by number; views compare by registry and id; unknown keys raise."""
        registry, path = setup
        entry = registry.models["agent"]
        versions = entry.versions
        assert len(versions) == 1
        assert "1.0.0" in repr(versions)
        with pytest.raises(KeyError):
            _ = versions["2.0.0"]
        version = versions["1.0.0"]
        assert version == entry.get_version()
        assert len({version, entry.get_version()}) == 1
        assert repr(version) == "ModelVersion('agent', '1.0.0')"
        assert (version.file_path, version.file_size_bytes) == (str(path), path.stat().st_size)
        assert version.findings == []
        assert version.to_dict()["hash"] == version.hash
        assert entry == registry.get_model("agent")
        assert len({entry, registry.get_model("agent")}) == 1
        assert entry != ModelRegistry(registry.registry_path).get_model("agent")
        assert repr(entry) == "ModelEntry('agent')"
        assert (entry.state, entry.aliases, entry.model_name) == ("active", {}, "Agent")

    def test_a_view_of_an_unknown_model(self, setup):
        """A view whose model is not in the registry raises NotFoundError on access."""
        registry, _ = setup
        ghost = ModelEntry(registry, "ghost")
        with pytest.raises(NotFoundError, match="ghost"):
            _ = ghost.name
        with pytest.raises(NotFoundError):
            registry.change("ghost", lambda e: None)

    def test_add_version_of_a_file_that_is_gone_or_no_longer_gnn(self, setup):
        """A file turned into prose, or deleted, is refused with the file named and why."""
        registry, path = setup
        edit(path, "# Just notes\n\nNo model here any more.\n")
        with pytest.raises(RegistrationError, match=rf"{path.name}:0: GNN-E101 error"):
            registry.models["agent"].add_version()
        path.unlink()
        with pytest.raises(RegistrationError, match=rf"{path.name}: \w+: "):
            registry.models["agent"].add_version()
        assert reopened(registry).current_version == "1.0.0"


class TestEntryMethods:
    def test_add_tag_persists(self, setup):
        """add_tag is recorded, persists, and is a no-op (False) when the tag is there."""
        registry, _ = setup
        entry = registry.models["agent"]
        before = entry.updated_at
        assert entry.add_tag("reviewed") is True
        assert entry.add_tag("reviewed") is False
        again = reopened(registry)
        assert again.tags == ["nav", "reviewed"]
        assert again.updated_at > before
        assert again.record().history[-1].event == "tags_changed"
        with pytest.raises(TransitionError):
            entry.add_tag("  ")

    def test_remove_tag_persists(self, setup):
        """remove_tag persists; removing an absent tag returns False."""
        registry, _ = setup
        entry = registry.models["agent"]
        assert entry.remove_tag("nav") is True
        assert entry.remove_tag("nav") is False
        assert reopened(registry).tags == []

    def test_update_metadata_persists_and_survives_new_versions(self, setup):
        """User metadata merges, persists, and is kept when the file gets a new version."""
        registry, path = setup
        entry = registry.models["agent"]
        assert entry.update_metadata({"author": "Ada", "reviewers": ["b"]}) is True
        assert entry.update_metadata({"author": "Ada"}) is False
        assert entry.update_metadata({"license": "MIT"}) is True
        again = reopened(registry)
        assert (again.metadata["author"], again.metadata["license"]) == ("Ada", "MIT")
        assert again.metadata["variables"] == 3  # the extracted summary is still there
        assert again.record().history[-1].details["keys"] == ["license"]
        edit(path, gnn_text("Agent", front="tags: [nav]", annotation="Changed."))
        assert entry.add_version().version == "1.0.1"
        assert reopened(registry).metadata["author"] == "Ada"
        with pytest.raises(TransitionError, match="JSON"):
            entry.update_metadata({"when": object()})

    def test_add_version_registers_the_current_file(self, setup):
        """add_version registers the file as it is now; unchanged bytes keep the version."""
        registry, path = setup
        entry = registry.models["agent"]
        first_hash = entry.get_version().hash
        assert entry.add_version().version == "1.0.0"  # identical bytes: no new version
        edit(path, gnn_text("Agent", front="tags: [nav]",
                            variables=("A[3,3,type=float]", "s[3,1,type=float]",
                                       "o[3,1,type=float]", "u[2,1,type=int]")))
        new = entry.add_version(path)
        assert new.version == "1.1.0"  # a variable was added: minor
        again = reopened(registry)
        assert again.current_version == "1.1.0"
        assert list(again.versions) == ["1.0.0", "1.1.0"]
        assert again.get_version("1.0.0").hash == first_hash
        assert again.get_version().hash == hashlib.sha256(path.read_bytes()).hexdigest()

    def test_add_version_refusals(self, setup, tmp_path):
        """Another file is refused; an invalid file raises with the file and line named."""
        registry, path = setup
        entry = registry.models["agent"]
        other = write(tmp_path / "m" / "other.md", gnn_text("Other"))
        with pytest.raises(TransitionError, match="register_model"):
            entry.add_version(other)
        edit(path, gnn_text("Agent", params=("A={(1.0)}",)))
        with pytest.raises(RegistrationError, match=rf"{path.name}:\d+: GNN-E"):
            entry.add_version()
        assert reopened(registry).current_version == "1.0.0"

    def test_get_version(self, setup):
        """get_version: current when omitted; a number, an alias or latest; None when unknown."""
        registry, _ = setup
        entry = registry.models["agent"]
        assert entry.get_version().version == "1.0.0"
        assert entry.get_version("latest") == entry.get_version("1.0.0")
        assert entry.get_version("9.9.9") is None
        assert entry.get_version("no-such-alias") is None

    def test_methods_on_a_deleted_model(self, setup):
        """A deleted model's view refuses changes with a clear message."""
        registry, _ = setup
        entry = registry.models["agent"]
        assert registry.delete_model("agent")
        assert entry.deleted is True
        with pytest.raises(TransitionError, match="deleted"):
            entry.add_tag("x")
        with pytest.raises(TransitionError, match="deleted"):
            entry.add_version()


UPSTREAM_REGISTRY = {
    "version": "1.0.0",
    "updated_at": "2025-06-01T10:00:00",
    "models": {
        "legacy_agent": {
            "model_id": "legacy_agent", "name": "Legacy Agent", "description": "Old one.",
            "current_version": "1.1.0", "tags": ["pomdp", "legacy"],
            "metadata": {"author": "Ada"},
            "created_at": "2025-05-01T10:00:00", "updated_at": "2025-06-01T10:00:00",
            "versions": {
                "1.0.0": {"version": "1.0.0", "file_path": "legacy_agent.md",
                          "created_at": "2025-05-01T10:00:00", "metadata": {},
                          "hash": "a" * 64},
                "1.1.0": {"version": "1.1.0", "file_path": "legacy_agent.md",
                          "created_at": "2025-06-01T10:00:00", "metadata": {},
                          "hash": "b" * 64},
            },
        },
    },
}


def check_imported(registry: ModelRegistry) -> None:
    entry = registry.models["legacy_agent"]
    assert (entry.name, entry.current_version) == ("Legacy Agent", "1.1.0")
    assert list(entry.versions) == ["1.0.0", "1.1.0"]
    assert entry.get_version("1.0.0").hash == "a" * 64
    assert set(entry.tags) == {"pomdp", "legacy"}


# The import itself is the storage layer's (registry.storage.jsonimport); these tests show
# the API path uses it.


class TestUpstreamRegistryImport:
    def test_model_registry_opens_an_upstream_file(self, tmp_path):
        """ModelRegistry(path) on an upstream model_registry.json imports its models."""
        path = tmp_path / "out" / "model_registry.json"
        write(path, json.dumps(UPSTREAM_REGISTRY))
        check_imported(ModelRegistry(path))

    def test_process_model_registry_keeps_upstream_models(self, tmp_path):
        """A pipeline run over an upstream registry keeps its models beside the new ones."""
        out = tmp_path / "out"
        write(out / "model_registry.json", json.dumps(UPSTREAM_REGISTRY))
        write(tmp_path / "in" / "a.md", gnn_text("A"))
        result = process_model_registry(tmp_path / "in", out)
        assert "legacy_agent" in result["matching_models"]
        check_imported(ModelRegistry(out))


"""The seed-compatible library API: ModelRegistry and process_model_registry."""

from __future__ import annotations

import json

import pytest

from registry.api import ModelRegistry, process_model_registry
from registry.errors import ConfigError
from tests.test_scan import edit, gnn_text, write


class TestProcessModelRegistry:
    def test_returns_the_seed_keys(self, tmp_path):
        """The pipeline call registers the directory and returns the seed's summary keys."""
        write(tmp_path / "in" / "a.md", gnn_text("A"))
        write(tmp_path / "in" / "sub" / "b.md", gnn_text("B", params=("A={(1.0)}",)))
        write(tmp_path / "in" / "README.md", "# readme\n")
        out = tmp_path / "out"
        result = process_model_registry(tmp_path / "in", out, verbose=True, recursive=True)
        assert result["processed_files"] == 3
        assert result["successful_registrations"] == 1
        assert result["invalid_files"] == 1
        assert result["skipped_files"] == 1
        assert result["total_models"] == 1
        assert result["registry_path"] == str(out / "model_registry.json")
        assert (result["exit_code"], result["success"]) == (1, False)
        saved = json.loads((out / "model_registry.json").read_text())
        assert list(saved["models"]) == ["a"]

    def test_options_are_config_settings(self, tmp_path):
        """Keyword options configure the scan; an invalid value of a setting is refused."""
        write(tmp_path / "in" / "a.md", gnn_text("A"))
        other = tmp_path / "elsewhere" / "reg.json"
        result = process_model_registry(tmp_path / "in", tmp_path / "out", registry_path=other)
        assert result["registry_path"] == str(other)
        assert other.is_file()
        with pytest.raises(ConfigError, match="auto_version"):
            process_model_registry(tmp_path / "in", tmp_path / "out", auto_version="maybe")


class TestModelRegistry:
    def test_round_trip(self, tmp_path):
        """Register, get, search, list, delete, save and load behave like the seed."""
        path = write(tmp_path / "m" / "agent.md",
                     gnn_text("POMDP Agent", front="tags: [navigation]"))
        registry = ModelRegistry(tmp_path / "out" / "model_registry.json")
        assert registry.list_models() == []
        assert registry.register_model(path) is True
        entry = registry.get_model("agent")
        assert entry is not None
        assert (entry.model_id, entry.name, entry.current_version) == (
            "agent", "POMDP Agent", "1.0.0")
        assert entry.tags == ["navigation"]
        assert entry.metadata["variables"] == 3
        assert list(entry.versions) == ["1.0.0"]
        assert [v.version for v in entry.versions.values()] == ["1.0.0"]
        assert [e.model_id for e in registry.search_models("pomdp")] == ["agent"]
        assert [e.model_id for e in registry.search_models("NAVIGATION")] == ["agent"]
        assert registry.search_models("nothing-like-this") == []
        other = ModelRegistry(tmp_path / "out")
        assert [e.model_id for e in other.list_models()] == ["agent"]
        assert registry.delete_model("agent") is True
        assert registry.delete_model("agent") is False
        assert registry.get_model("agent") is None
        registry.save()
        other.load()
        assert other.list_models() == []

    def test_register_changes_and_bad_files(self, tmp_path):
        """A changed file gets a new version; README and invalid files return False."""
        path = write(tmp_path / "m" / "agent.md", gnn_text())
        readme = write(tmp_path / "m" / "README.md", "# readme\n")
        bad = write(tmp_path / "m" / "bad.md", gnn_text(params=("A={(1.0)}",)))
        registry = ModelRegistry(tmp_path / "out" / "model_registry.json")
        assert registry.register_model(path)
        edit(path, gnn_text(annotation="Changed."))
        assert registry.register_model(path)
        entry = registry.get_model("agent")
        assert entry is not None
        assert entry.current_version == "1.0.1"
        assert registry.register_model(readme) is False
        assert registry.register_model(bad) is False
        assert registry.register_model(tmp_path / "missing.md") is False

    def test_register_after_delete_revives(self, tmp_path):
        """Registering a deleted model's file again brings it back under the same id."""
        path = write(tmp_path / "m" / "agent.md", gnn_text())
        registry = ModelRegistry(tmp_path / "out" / "model_registry.json")
        registry.register_model(path)
        registry.delete_model("agent")
        assert registry.register_model(path) is True
        assert registry.get_model("agent") is not None

    def test_save_creates_an_empty_registry(self, tmp_path):
        """save() on a fresh registry writes a valid, empty registry file."""
        registry = ModelRegistry(tmp_path / "out" / "model_registry.json")
        registry.save()
        data = json.loads((tmp_path / "out" / "model_registry.json").read_text())
        assert data["models"] == {}

"""First-open migration of a JSON registry, killed at named steps and at random instants."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.config import Config
from registry.storage.failpoints import ENV_VAR, MIGRATION_FAILPOINTS
from registry.storage.jsonimport import IMPORTED_SUFFIX
from registry.storage.store import RegistryStore
from tests.helpers import make_entry

REPO = Path(__file__).resolve().parents[1]
MODELS = 300


def v1_registry(out: Path) -> dict[str, dict[str, object]]:
    """Write a schema-1 registry of :data:`MODELS` models (history, curation, a deleted one)."""
    models = {}
    for i in range(MODELS):
        entry = make_entry(f"m{i:03d}", version="1.0.1")
        entry.versions.insert(0, make_entry(f"m{i:03d}").versions[0])
        entry.tags = [f"t{i % 7}"]
        entry.aliases = {"prod": "1.0.0"} if i % 3 == 0 else {}
        entry.deleted = i % 50 == 49
        models[entry.model_id] = entry.to_dict()
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_registry.json").write_text(json.dumps({
        "schema_version": 1, "generation": 40, "updated_at": "2026-11-01T00:00:00.000000Z",
        "last_scan_at": None, "roots": [], "models": models}), "utf-8")
    return models


def opener(out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A real ``gnn-registry list`` process (it imports the registry on first open)."""
    full = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    full.update({"PYTHONPATH": str(REPO), **(env or {})})
    code = "import sys; from daemon.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, "list", "--all", "--json",
                             "--output-dir", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=full, cwd=REPO)


def check(out: Path, original: dict[str, dict[str, object]]) -> str:
    """Either the old registry or the finished new one; returns which ("old"/"new")."""
    view, kept = out / "model_registry.json", out / f"model_registry.json{IMPORTED_SUFFIX}"
    db = out / "model_registry.sqlite3"
    if not db.exists():
        assert json.loads(view.read_text("utf-8"))["models"] == original
        assert not kept.exists()
        return "old"
    store = RegistryStore(Config(output_dir=out))
    assert store.health() is None
    source = kept if kept.exists() else view
    assert json.loads(source.read_text("utf-8"))["models"] == original  # the original is kept
    doc = store.load()
    assert {mid: doc.models[mid].to_dict() for mid in doc.models} == original
    return "new"


class TestMigrationCrashes:
    @pytest.mark.parametrize("name", MIGRATION_FAILPOINTS)
    def test_killed_at_each_step_leaves_old_or_new(self, tmp_path: Path, name: str) -> None:
        """A migration killed at a named step leaves the old registry; the next run finishes."""
        out = tmp_path / "out"
        original = v1_registry(out)
        proc = opener(out, {ENV_VAR: name})
        assert proc.wait(60) == -signal.SIGKILL
        assert check(out, original) == "old"
        proc = opener(out)
        assert proc.wait(60) == 0
        assert check(out, original) == "new"
        assert not list(out.glob(".*.tmp"))

    def test_random_kills_never_lose_the_registry(self, tmp_path: Path) -> None:
        """Kills at random instants during the import: old or new, never anything between."""
        rng = random.Random(20261205)
        seen = set()
        for round_no in range(8):
            out = tmp_path / f"r{round_no}"
            original = v1_registry(out)
            proc = opener(out)
            time.sleep(rng.uniform(0.2, 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
            seen.add(check(out, original))
            finisher = opener(out)
            assert finisher.wait(60) == 0
            assert check(out, original) == "new"
        assert seen  # which states the kills hit depends on timing; both are fine

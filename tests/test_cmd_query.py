"""The query and curation CLI, run in-process on registries written with the real store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from daemon.cli import main
from registry.config import Config
from registry.model.relations import refresh_relationships
from registry.storage.store import RegistryStore
from tests.test_lifecycle import make_entry
from tests.test_query import BASE, version_from

GNN_TEXT = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]",
                       edges="s>A\nA>o", a="{(1,0),(0,1)}")
GNN_TEXT_2 = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]\n"
                              "u[2,type=int]", edges="s>A\nA>o\nu>s", a="{(1,0),(0,1)}")


class Cli:
    """Runs ``gnn-registry`` in-process against one output directory."""

    def __init__(self, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.out = out
        self.capsys = capsys
        self.store = RegistryStore(Config(output_dir=out))

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """Exit status, stdout and stderr of one command (logs captured, not printed)."""
        self.capsys.readouterr()
        with capture_logs():
            code = main([*argv, "--output-dir", str(self.out)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *argv: str) -> tuple[int, object]:
        """Exit status and parsed ``--json`` output."""
        code, out, err = self(*argv, "--json")
        assert out, err
        return code, json.loads(out)


@pytest.fixture(name="cli")
def _cli(tmp_path, capsys):
    """A registry with a two-version model file on disk, a family pair and a removed model."""
    src = tmp_path / "src"
    src.mkdir()
    model_file = src / "agent.md"
    model_file.write_text(GNN_TEXT_2, encoding="utf-8")
    runner = Cli(tmp_path / "out", capsys)
    with capture_logs(), runner.store.transaction(actor="setup") as doc:
        agent = make_entry("agent", name="Navigation Agent", tags=("pomdp",),
                           description="walks a grid", file_path=str(model_file))
        agent.versions = [version_from(GNN_TEXT, "1.0.0", 0), version_from(GNN_TEXT_2,
                                                                          "1.1.0", 1)]
        for rec in agent.versions:
            rec.file_path = str(model_file)
        agent.version = "1.1.0"
        agent.sha256 = agent.versions[-1].sha256
        agent.metadata = dict(agent.versions[-1].metadata)
        sibling = make_entry("sibling", name="Sibling", file_path=str(src / "sibling.md"),
                             metadata={"signature": agent.metadata["signature"],
                                       "depends_on": ["agent"]})
        (src / "sibling.md").write_text("sibling", encoding="utf-8")
        sibling.sha256 = hashlib.sha256(b"sibling").hexdigest()
        gone = make_entry("gone", name="Gone model", state="removed")
        for entry in (agent, sibling, gone):
            doc.models[entry.model_id] = entry
        refresh_relationships(doc)
    return runner


class TestList:
    """list and search print aligned rows or JSON with state and aliases."""

    def test_list_hides_removed_unless_all(self, cli):
        """list shows live models; --all adds removed ones."""
        code, rows = cli.json("list")
        assert code == 0
        assert [r["model_id"] for r in rows] == ["agent", "sibling"]
        assert {"state", "aliases", "version"} <= rows[0].keys()
        _, rows = cli.json("list", "--all")
        assert [r["model_id"] for r in rows] == ["agent", "gone", "sibling"]
        _, rows = cli.json("list", "--state", "removed")
        assert [r["model_id"] for r in rows] == ["gone"]

    def test_human_list_is_aligned(self, cli):
        """Human output has a header and one aligned row per model."""
        code, out, _ = cli("list")
        lines = out.splitlines()
        assert code == 0
        assert lines[0].split() == ["ID", "VERSION", "STATE", "ALIASES", "NAME"]
        assert lines[1].index("1.1.0") == lines[0].index("VERSION")
        assert "Navigation Agent" in lines[1]

    def test_search_filters_and_or(self, cli):
        """search combines terms with AND, or OR with --any."""
        _, rows = cli.json("search", "tag:pomdp", "state:active")
        assert [r["model_id"] for r in rows] == ["agent"]
        _, rows = cli.json("search", "tag:pomdp", "name:sibling", "--any")
        assert [r["model_id"] for r in rows] == ["agent", "sibling"]
        _, rows = cli.json("search", "walks a grid")
        assert [r["model_id"] for r in rows] == ["agent"]

    def test_search_unknown_state_exits_1(self, cli):
        """A misspelt state filter is an error with exit status 1."""
        code, _, err = cli("search", "state:activ")
        assert code == 1
        assert "unknown state" in err

    @pytest.mark.parametrize("argv", [("list",), ("show", "x"), ("history", "x"),
                                      ("deps", "x"), ("diff", "x", "1.0.0", "1.0.1"),
                                      ("search", "x")])
    def test_no_registry(self, tmp_path, capsys, argv):
        """A query where there is no registry says so, exits 1 and creates nothing."""
        code, out, err = Cli(tmp_path / "none", capsys)(*argv)
        assert (code, out.strip()) == (1, "")
        assert "no registry at" in err
        assert not (tmp_path / "none").exists()


class TestShowHistoryDiffDeps:
    """Read commands on one model."""

    def test_show_model_and_version(self, cli):
        """show ID prints the model; show ID@V prints that version."""
        code, data = cli.json("show", "agent")
        assert code == 0
        assert data["model_id"] == "agent"
        assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0"]
        _, data = cli.json("show", "agent@1.0.0")
        assert (data["version"], data["current"]) == ("1.0.0", False)
        code, out, _ = cli("show", "agent")
        assert "Navigation Agent" in out
        assert "same_family -> sibling" in out

    @pytest.mark.parametrize("ref", ["nobody", "agent@9.0.0", "agent@champion"])
    def test_show_missing_exits_1(self, cli, ref):
        """A missing model, version or alias exits 1 with a message on stderr."""
        code, out, err = cli("show", ref)
        assert code == 1
        assert out == ""
        assert "error:" in err

    def test_diff(self, cli):
        """diff reports the added variable and the implied minor bump."""
        code, data = cli.json("diff", "agent", "1.0.0", "1.1.0")
        assert code == 0
        assert data["bump"] == "minor"
        assert [v["name"] for v in data["variables"]["added"]] == ["u"]
        code, out, _ = cli("diff", "agent", "1.0.0", "latest")
        assert "implied bump: minor" in out
        assert "+ u[2] int" in out
        assert cli("diff", "agent", "1.0.0", "7.0.0")[0] == 1

    def test_deps_both_directions(self, cli):
        """deps shows outgoing and incoming relationships."""
        code, data = cli.json("deps", "agent")
        assert code == 0
        assert [(r["type"], r["target"]) for r in data["outgoing"]] == [
            ("same_family", "sibling")]
        assert [(r["type"], r["source"]) for r in data["incoming"]] == [
            ("depends_on", "sibling"), ("same_family", "sibling")]
        _, out, _ = cli("deps", "agent")
        assert "<- sibling" in out

    def test_history_survives_deletion(self, cli):
        """history still shows a deleted model's events, including the deletion."""
        assert cli("delete", "sibling", "--reason", "dup")[0] == 0
        code, data = cli.json("history", "sibling")
        assert code == 0
        assert data["deleted"] is True
        assert data["history"][-1]["event"] == "deleted"
        assert data["history"][-1]["reason"] == "dup"


class TestCuration:
    """Changing commands go through the store and record history."""

    def test_state_change_and_refusals(self, cli):
        """state changes are recorded; a refused transition exits 1 and writes nothing."""
        code, data = cli.json("state", "agent", "deprecated", "--reason", "superseded")
        assert (code, data) == (0, {"model_id": "agent", "from": "active", "to": "deprecated",
                                    "changed": True})
        entry = cli.store.load().models["agent"]
        assert entry.state == "deprecated"
        assert entry.history[-1].actor == Config().actor
        generation = cli.store.load().generation
        # A request that already holds is no error (exit 0) and changes nothing.
        code, _, err = cli("state", "agent", "deprecated", "--reason", "again")
        assert code == 0
        assert "already deprecated" in err
        code, _, err = cli("state", "gone", "active", "--reason", "back")
        assert code == 1
        assert "scanner" in err
        assert cli.store.load().generation == generation

    def test_state_needs_a_reason(self, cli):
        """state without --reason is a usage error."""
        with pytest.raises(SystemExit) as exc:
            cli("state", "agent", "archived")
        assert exc.value.code == 2

    def test_alias_set_move_resolve_and_remove(self, cli):
        """alias points, moves and is removed; show resolves it."""
        assert cli.json("alias", "agent", "production", "1.0.0") == (
            0, {"model_id": "agent", "alias": "production", "from": None, "to": "1.0.0"})
        code, data = cli.json("alias", "agent", "production", "latest", "--reason", "go")
        assert (code, data["from"], data["to"]) == (0, "1.0.0", "1.1.0")
        _, shown = cli.json("show", "agent@production")
        assert shown["version"] == "1.1.0"
        _, rows = cli.json("search", "alias:production")
        assert rows[0]["aliases"] == {"production": "1.1.0"}
        code, data = cli.json("alias", "agent", "production", "--remove")
        assert (code, data["from"], data["to"]) == (0, "1.1.0", None)
        events = [h.event for h in cli.store.load().models["agent"].history]
        assert events == ["alias_moved", "alias_moved", "alias_removed"]

    @pytest.mark.parametrize(("argv", "code"), [
        (("alias", "agent", "latest", "1.0.0"), 1),
        (("alias", "agent", "prod", "4.0.0"), 1),
        (("alias", "agent", "9bad", "1.0.0"), 1),
        (("alias", "agent", "prod", "--remove"), 1),
        (("alias", "agent", "prod"), 2),
        (("alias", "nobody", "prod", "1.0.0"), 1),
    ])
    def test_alias_refusals(self, cli, argv, code):
        """Reserved, malformed, unknown or incomplete alias commands fail without writing."""
        before = cli.store.load().generation
        assert cli(*argv)[0] == code
        assert cli.store.load().generation == before

    def test_tags(self, cli):
        """tag adds and --remove removes; adding a present tag exits 0 with a note."""
        code, data = cli.json("tag", "agent", "grid", "vision")
        assert (code, data["added"], data["tags"]) == (0, ["grid", "vision"],
                                                       ["pomdp", "grid", "vision"])
        code, data = cli.json("tag", "agent", "pomdp", "--remove")
        assert (code, data["tags"]) == (0, ["grid", "vision"])
        code, _, err = cli("tag", "agent", "grid")
        assert code == 0
        assert "already has" in err

    def test_delete_hides_and_reserves(self, cli):
        """delete hides the model everywhere, keeps it in the file and unlinks it."""
        code, data = cli.json("delete", "agent", "--reason", "bad")
        assert (code, data["deleted"]) == (0, True)
        _, rows = cli.json("list")
        assert [r["model_id"] for r in rows] == ["sibling"]
        assert cli("show", "agent")[0] == 1
        assert cli.json("search", "agent")[1] == []
        assert cli("delete", "agent")[0] == 1
        assert cli.store.load().models["agent"].deleted is True  # kept: the id stays reserved
        view = json.loads(cli.store.view_path.read_text(encoding="utf-8"))
        assert "agent" not in view["models"]
        sibling = cli.store.load().models["sibling"]
        assert [(r.type, r.target) for r in sibling.relationships] == [
            ("depends_on_unresolved", "agent")]


class TestVerifyRestore:
    """verify checks registry and files; restore brings a backup back."""

    def test_verify_ok_then_changed_and_missing_files(self, cli, tmp_path):
        """verify exits 0 when files match and 1 naming changed or missing files."""
        code, data = cli.json("verify")
        assert (code, data["ok"], data["models_checked"]) == (0, True, 2)
        (tmp_path / "src" / "agent.md").write_text(GNN_TEXT_2 + "\n# edit\n", encoding="utf-8")
        (tmp_path / "src" / "sibling.md").unlink()
        code, data = cli.json("verify")
        assert code == 1
        assert any(p.startswith("agent:") and "changed since" in p for p in data["problems"])
        assert any(p.startswith("sibling:") and "missing" in p for p in data["problems"])

    def test_verify_does_not_open_a_fifo(self, cli, tmp_path):
        """A source path that became a FIFO is reported, never opened."""
        path = tmp_path / "src" / "sibling.md"
        path.unlink()
        import os  # noqa: PLC0415

        os.mkfifo(path)
        code, out, _ = cli("verify")
        assert code == 1
        assert "not a regular file" in out

    def test_restore_named_backup(self, cli):
        """restore NAME brings back the state it holds and keeps counting up."""
        before = cli.store.backups()[0]  # taken after the last write before the change
        assert cli("state", "agent", "archived", "--reason", "x")[0] == 0
        generation = cli.store.load().generation
        code, data = cli.json("restore", before.name)
        assert code == 0
        restored = cli.store.load()
        assert restored.models["agent"].state == "active"
        assert data["generation"] == restored.generation > generation
        assert data["restored_from"] == str(before)

    def test_restore_without_name_refuses_on_a_healthy_registry(self, cli):
        """A bare restore on a sound registry exits 1 with a hint; --latest restores."""
        code, _, err = cli("restore")
        assert code == 1
        assert "--latest" in err
        assert "--list" in err
        newest = cli.store.backups()[0]
        code, out, _ = cli("restore", "--latest")
        assert code == 0
        assert newest.name in out

    def test_restore_list(self, cli):
        """restore --list names each backup with its generation, time and model count."""
        code, rows = cli.json("restore", "--list")
        assert code == 0
        assert [r["name"] for r in rows] == [p.name for p in cli.store.backups()]
        assert rows[0]["generation"] == cli.store.load().generation
        assert rows[0]["models"] == cli.store.load().live_count()
        code, out, _ = cli("restore", "--list")
        assert code == 0
        assert rows[0]["name"] in out
        assert "GENERATION" in out

    def test_restore_unknown_backup_exits_1(self, cli):
        """Naming a backup that does not exist exits 1."""
        code, _, err = cli("restore", "no-such-backup.json")
        assert code == 1
        assert "no-such-backup" in err


class TestScannedRegistry:
    """The commands on a registry the real scanner built from small GNN files."""

    @pytest.fixture(name="scanned")
    def _scanned(self, tmp_path, capsys):
        """Three files: a base model, a front-matter dependant and a two-model file."""
        from registry.scanning.scan import Scanner  # noqa: PLC0415 - only this class needs the scanner

        src = tmp_path / "src"
        src.mkdir()
        small = BASE.format(vars="A[2,2,type=float]\ns[2,1,type=float]\no[2,1,type=int]",
                            edges="s>A\nA>o", a="{(1,0),(0,1)}")
        large = BASE.format(vars="A[3,3,type=float]\ns[3,1,type=float]\no[3,1,type=int]",
                            edges="s>A\nA>o", a="{(1,0,0),(0,1,0),(0,0,1)}")
        (src / "small.md").write_text(small, encoding="utf-8")
        (src / "large.md").write_text("---\ndepends_on: [small]\n---\n" + large,
                                      encoding="utf-8")
        (src / "pair.md").write_text(small + "\n---\n" + large, encoding="utf-8")
        runner = Cli(tmp_path / "out", capsys)
        config = Config(output_dir=runner.out)
        with capture_logs():
            assert Scanner(config).reconcile([src]).exit_code == 0
        runner.scan = lambda: Scanner(config).reconcile([src])  # type: ignore[attr-defined]
        return runner, src

    def test_relationships_from_a_scan(self, scanned):
        """Declared, family and same-file edges show up in deps, both ways."""
        cli, _ = scanned
        _, small = cli.json("deps", "small")
        assert ("depends_on", "large") in [(r["type"], r["source"]) for r in small["incoming"]]
        _, pair = cli.json("deps", "pair")
        assert ("same_file", "pair--2") in [(r["type"], r["target"]) for r in pair["outgoing"]]
        assert ("same_family", "large") in [(r["type"], r["target"]) for r in pair["outgoing"]]

    def test_verify_hashes_each_block_of_a_multi_model_file(self, scanned):
        """Editing the second model of a file is blamed on that model only."""
        cli, src = scanned
        assert cli.json("verify")[0] == 0
        path = src / "pair.md"
        first, second = path.read_text(encoding="utf-8").split("\n---\n")
        path.write_text(first + "\n---\n" + second.replace("A>o", "A>o\no>s"),
                        encoding="utf-8")
        code, data = cli.json("verify")
        assert code == 1
        blamed = sorted(p.split(":")[0] for p in data["problems"])
        assert blamed == ["pair--2"]

    def test_removed_file_is_listed_only_with_all(self, scanned):
        """A file deleted on disk becomes a removed model, shown by list --all only."""
        cli, src = scanned
        (src / "small.md").unlink()
        with capture_logs():
            cli.scan()
        _, rows = cli.json("list")
        assert "small" not in [r["model_id"] for r in rows]
        _, rows = cli.json("list", "--all")
        assert ("small", "removed") in [(r["model_id"], r["state"]) for r in rows]
        code, _, err = cli("state", "small", "active", "--reason", "please")
        assert code == 1
        assert "scanner" in err

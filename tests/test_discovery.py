"""Discovery: which files are candidates, which names are ignored, symlinks, odd files."""

from __future__ import annotations

import os
from pathlib import Path

from registry.config import Config
from registry.scanning.discovery import discover
from registry.scanning.names import is_editor_temporary, is_ignored, looks_like_gnn
from registry.scanning.scanio import stat_key

GNN_HEAD = "## GNNSection\nX\n\n## ModelName\nY\n"


def names(result, root: Path) -> list[str]:
    return [str(Path(c.path).relative_to(root)) for c in result.files]


class TestLooksLikeGnn:
    def test_two_headings(self):
        """Two distinct GNN section headings make a model."""
        assert looks_like_gnn(GNN_HEAD)

    def test_readme_is_not_gnn(self):
        """Markdown with other headings (or one GNN heading) is not a model."""
        assert not looks_like_gnn("# Readme\n\n## Usage\ntext\n## ModelName\nx\n")
        assert not looks_like_gnn("## ModelName\nA\n## ModelName\nB\n")
        assert not looks_like_gnn("### ModelName\n### Connections\n")


class TestCandidates:
    def test_patterns_and_recursion(self, tmp_path):
        """Matching names are found in every sub-folder, others are not."""
        (tmp_path / "a" / "b").mkdir(parents=True)
        for rel in ("m.md", "a/n.markdown", "a/b/o.gnn", "a/b/UP.MD", "a/notes.txt"):
            (tmp_path / rel).write_text(GNN_HEAD)
        result = discover([tmp_path], Config())
        assert names(result, tmp_path) == ["m.md", "a/n.markdown", "a/b/UP.MD", "a/b/o.gnn"]
        assert not result.problems

    def test_editor_files_and_hidden_paths_are_ignored(self, tmp_path):
        """Swap, backup, probe, lock and hidden files and hidden folders are never candidates."""
        (tmp_path / ".git").mkdir()
        (tmp_path / "2024").mkdir()
        for rel in ("m.md.swp", "m.md~", ".#m.md", "#m.md#", "4913", "m.md.tmp", ".m.md",
                    ".git/x.md", "2024/kept.md", "kept.md"):
            (tmp_path / rel).write_text(GNN_HEAD)
        assert names(discover([tmp_path], Config()), tmp_path) == ["kept.md", "2024/kept.md"]

    def test_walker_and_name_filter_agree_under_a_catch_all_pattern(self, tmp_path):
        """With ``patterns = ["*"]`` the walk drops exactly the names is_editor_temporary does."""
        names_on_disk = ["m.md.swp", "m.swx", "n.swo", "m.md~", "#m.md#", "#", "4913", "x.tmp",
                         "12.md", "#draft", "draft#", "M.MD", "notes"]
        for name in names_on_disk:
            (tmp_path / name).write_text(GNN_HEAD)
        found = names(discover([tmp_path], Config(patterns=("*",))), tmp_path)
        assert sorted(found) == sorted(n for n in names_on_disk if not is_editor_temporary(n))
        assert sorted(found) == ["#draft", "12.md", "M.MD", "draft#", "notes"]

    def test_extension_patterns_shortcut_agrees_with_the_glob_rules(self, tmp_path):
        """Default ``*.ext`` patterns take a string-suffix shortcut: same files as the globs."""
        for name in ("a.md", "B.MD", "c.Markdown", "d.gnn", "e.md.swp", "f.md~", "#g.md#",
                     "4913", "h.txt", "i.mdx", "j.gnn.tmp", ".k.md", "l.md.bak"):
            (tmp_path / name).write_text(GNN_HEAD)
        shortcut = names(discover([tmp_path], Config()), tmp_path)
        # A bracket pattern matching nothing here turns the shortcut off (glob regex path).
        globbed = names(discover([tmp_path], Config(
            patterns=(*Config().patterns, "never[!a-z]"))), tmp_path)
        assert shortcut == globbed == ["B.MD", "a.md", "c.Markdown", "d.gnn"]

    def test_ignore_patterns(self, tmp_path):
        """config.ignore_patterns match names and relative paths."""
        (tmp_path / "drafts").mkdir()
        for rel in ("a.md", "b.template.md", "drafts/c.md"):
            (tmp_path / rel).write_text(GNN_HEAD)
        config = Config(ignore_patterns=("*.template.md", "drafts"))
        assert names(discover([tmp_path], config), tmp_path) == ["a.md"]

    def test_symlinks_skipped_by_default(self, tmp_path):
        """Symlinked files and directories are not followed unless configured."""
        real = tmp_path / "real"
        real.mkdir()
        (real / "m.md").write_text(GNN_HEAD)
        root = tmp_path / "root"
        root.mkdir()
        (root / "link.md").symlink_to(real / "m.md")
        (root / "dirlink").symlink_to(real)
        assert names(discover([root], Config()), root) == []
        followed = names(discover([root], Config(follow_symlinks=True)), root)
        assert sorted(followed) == ["dirlink/m.md", "link.md"]

    def test_symlink_loops_end(self, tmp_path):
        """Following symlinks never loops on a link to an ancestor."""
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "m.md").write_text(GNN_HEAD)
        (tmp_path / "d" / "up").symlink_to(tmp_path)
        result = discover([tmp_path], Config(follow_symlinks=True))
        assert names(result, tmp_path) == ["d/m.md"]

    def test_fifo_is_reported_not_opened(self, tmp_path):
        """A FIFO named like a model is skipped with a reason and never opened."""
        os.mkfifo(tmp_path / "pipe.md")
        result = discover([tmp_path], Config())
        assert result.files == []
        assert [(Path(p.path).name, p.status) for p in result.problems] == [("pipe.md", "skipped")]

    def test_unreadable_directory(self, tmp_path, monkeypatch):
        """A directory that cannot be listed is an error and is remembered as unlisted."""
        locked = tmp_path / "locked"
        locked.mkdir()
        (locked / "m.md").write_text(GNN_HEAD)
        real_scandir = os.scandir

        def deny(path):
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", deny)
        result = discover([tmp_path], Config())
        monkeypatch.undo()
        assert result.files == []
        assert result.unlisted == [str(locked)]
        assert result.problems[0].status == "error"

    def test_missing_root(self, tmp_path):
        """A root that does not exist is reported, and nothing below it counts as gone."""
        result = discover([tmp_path / "nope"], Config())
        assert result.problems[0].message == "directory does not exist"
        assert result.unlisted == [str(tmp_path / "nope")]

    def test_root_may_be_a_file(self, tmp_path):
        """A single file given as root is the only candidate, whatever its name."""
        (tmp_path / "model.txt").write_text(GNN_HEAD)
        assert names(discover([tmp_path / "model.txt"], Config()), tmp_path) == ["model.txt"]


class TestIsIgnored:
    def test_editor_temporaries(self):
        """The watcher's filter drops editor files by name."""
        for name in ("4913", "x.md.swp", "x.md~", ".#x.md", "#x.md#", ".hidden.md", "x.tmp"):
            assert is_ignored(Path("/w") / name)
        assert not is_ignored(Path("/w/model.md"))

    def test_hidden_folders_below_a_root(self):
        """Paths inside hidden folders are ignored below the root, not above it."""
        assert is_ignored("/home/u/.cfg/models/.git/x.md", roots=["/home/u/.cfg/models"])
        assert not is_ignored("/home/u/.cfg/models/sub/x.md", roots=["/home/u/.cfg/models"])

    def test_ignore_patterns(self):
        """Configured patterns apply to names and relative folders."""
        assert is_ignored("/r/drafts/x.md", roots=["/r"], ignore_patterns=("drafts",))
        assert is_ignored("/r/x.bak.md", roots=["/r"], ignore_patterns=("*.bak.md",))
        assert not is_ignored("/r/x.md", roots=["/r"], ignore_patterns=("drafts",))


class TestProbe:
    """``discover(..., known=...)``: match candidates against recorded stats as the walk goes."""

    @staticmethod
    def tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
        root = tmp_path / "models"
        for rel in ("b.md", "a.md", "sub/c.md", ".hidden.md", "notes.txt"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(GNN_HEAD)
        os.mkfifo(root / "pipe.md")
        plain = discover([root], Config())
        known = {c.path: f"{stat_key(c.stat)}\tunchanged\t1.0.0\tid" for c in plain.files}
        return root, known

    def test_every_candidate_known_gives_hits_in_discovery_order(self, tmp_path):
        root, known = self.tree(tmp_path)
        plain = discover([root], Config())
        probed = discover([root], Config(), known=known)
        assert probed.files == []
        assert probed.known == [c.path for c in plain.files]
        assert probed.problems == plain.problems  # the FIFO is still reported
        assert plain.known is None

    def test_changed_stat_falls_back_to_candidates(self, tmp_path):
        root, known = self.tree(tmp_path)
        with (root / "sub" / "c.md").open("a") as fh:
            fh.write("more\n")
        probed = discover([root], Config(), known=known)
        assert probed.known is None
        assert names(probed, root) == ["a.md", "b.md", "sub/c.md"]

    def test_unknown_file_or_wrong_entry_falls_back(self, tmp_path):
        root, known = self.tree(tmp_path)
        first = sorted(known)[0]
        for spoilt in ({k: v for k, v in known.items() if k != first},  # a new file
                       {**known, first: known[first].split("\t")[0]},  # no tab after the key
                       {**known, first: ["not", "a", "string"]}):
            probed = discover([root], Config(), known=spoilt)  # type: ignore[arg-type]
            assert probed.known is None
            assert names(probed, root) == ["a.md", "b.md", "sub/c.md"]

    def test_unlisted_directory_falls_back_and_is_reported_once(self, tmp_path, monkeypatch):
        root, known = self.tree(tmp_path)
        real_scandir = os.scandir
        denied: list[str] = []

        def deny(path):
            if str(path) == str(root / "sub"):
                denied.append(str(path))
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", deny)
        probed = discover([root], Config(), known=known)
        monkeypatch.undo()
        assert probed.known is None
        assert probed.unlisted == [str(root / "sub")]
        assert [p.path for p in probed.problems if p.status == "error"] == [str(root / "sub")]
        assert len(denied) == 2  # the probe stopped there, and the plain walk reported it

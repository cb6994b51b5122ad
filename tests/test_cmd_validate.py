"""``gnn-registry validate``: output format, exit status, JSON, unreadable paths."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon import cmd_validate
from daemon.cli import main
from tests.test_gnn_codes import BASE, appended, line_of

ERROR_TEXT = appended(BASE, "InitialParameterization", "C={(1.0, 2.0)")
WARNING_TEXT = appended(BASE, "StateSpaceBlock", "lonely[2,type=float]")


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestTextOutput:
    """One line per finding on stdout, a summary on stderr, exit status by severity."""

    def test_clean_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A clean file prints nothing on stdout and exits 0."""
        path = write(tmp_path, "ok.md", BASE)
        assert main(["validate", str(path)]) == 0
        out, err = capsys.readouterr()
        assert out == ""
        assert "1 ok" in err
        assert len(err.splitlines()) == 1

    def test_error_line_format(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An error prints path:line: CODE severity: message and exits 1."""
        path = write(tmp_path, "bad.md", ERROR_TEXT)
        assert main(["validate", str(path)]) == 1
        out, _ = capsys.readouterr()
        expected = f"{path}:{line_of(ERROR_TEXT, 'C={')}: GNN-E103 error: "
        assert any(line.startswith(expected) for line in out.splitlines())

    def test_warnings_pass_unless_strict(self, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Warnings are printed; they fail the run only with --strict."""
        path = write(tmp_path, "warn.md", WARNING_TEXT)
        assert main(["validate", str(path)]) == 0
        out, _ = capsys.readouterr()
        assert f"{path}:{line_of(WARNING_TEXT, 'lonely[')}: GNN-W001 warning: " in out
        assert main(["validate", "--strict", str(path)]) == 1

    def test_line_zero_when_no_line(self, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
        """A missing section is printed with line 0."""
        path = write(tmp_path, "nofooter.md", BASE.replace("## Footer", "## Epilogue"))
        assert main(["validate", str(path)]) == 0
        out, _ = capsys.readouterr()
        assert f"{path}:0: GNN-W101 warning: " in out

    def test_several_files_any_error_fails(self, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
        """With several files, one failing file makes the exit status 1; all are reported."""
        good = write(tmp_path, "good.md", BASE)
        bad = write(tmp_path, "bad.md", ERROR_TEXT)
        assert main(["validate", str(good), str(bad)]) == 1
        out, err = capsys.readouterr()
        assert all(line.startswith(f"{bad}:") for line in out.splitlines())
        assert "1 ok, 1 failed" in err

    def test_binary_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A binary file is GNN-E100, not a traceback."""
        path = tmp_path / "blob.md"
        path.write_bytes(b"## GNNSection\n\xff\xfe\x00\x01")
        assert main(["validate", str(path)]) == 1
        out, _ = capsys.readouterr()
        assert f"{path}:2: GNN-E100 error: " in out


class TestJsonOutput:
    """--json prints one array of per-file reports."""

    def test_json_report(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Each file has path, ok and its findings as dicts."""
        good = write(tmp_path, "good.md", BASE)
        bad = write(tmp_path, "bad.md", ERROR_TEXT)
        assert main(["validate", "--json", str(good), str(bad)]) == 1
        out, _ = capsys.readouterr()
        data = json.loads(out)
        assert [(r["path"], r["ok"]) for r in data] == [(str(good), True), (str(bad), False)]
        assert data[0]["findings"] == []
        codes = {(f["code"], f["severity"], f["line"]) for f in data[1]["findings"]}
        assert ("GNN-E103", "error", line_of(ERROR_TEXT, "C={")) in codes

    def test_json_strict(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With --strict, a file with only warnings is not ok."""
        path = write(tmp_path, "warn.md", WARNING_TEXT)
        assert main(["validate", "--json", "--strict", str(path)]) == 1
        (report,) = json.loads(capsys.readouterr().out)
        assert report["ok"] is False


class TestUnreadable:
    """Paths that cannot be read give one GNN-E107 line, exit 1 and no traceback."""

    def test_missing(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file is reported with a clear reason."""
        path = tmp_path / "absent.md"
        assert main(["validate", str(path)]) == 1
        out, err = capsys.readouterr()
        assert out == f"{path}:0: GNN-E107 error: cannot read: no such file\n"
        assert "Traceback" not in err

    def test_empty_directory(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A directory is searched for GNN files (here none: nothing fails)."""
        assert main(["validate", str(tmp_path)]) == 0
        assert "0 file(s) checked" in capsys.readouterr().err

    @pytest.mark.timeout(20)
    def test_fifo_is_not_opened(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A FIFO with no writer is refused at once instead of blocking the command."""
        fifo = tmp_path / "pipe.md"
        os.mkfifo(fifo)
        assert main(["validate", str(fifo)]) == 1
        assert "FIFO" in capsys.readouterr().out

    def test_permission_denied(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
        """An unreadable file is reported as permission denied."""
        path = write(tmp_path, "secret.md", BASE)
        path.chmod(0)
        if os.access(path, os.R_OK):
            # Running as root: permissions do not apply, so inject EACCES at this one open.
            real_open = os.open

            def deny(file: str, flags: int, *args: int) -> int:
                if file == str(path):
                    raise PermissionError(errno.EACCES, "Permission denied", file)
                return real_open(file, flags, *args)

            monkeypatch.setattr(cmd_validate.os, "open", deny)
        try:
            assert main(["validate", str(path)]) == 1
        finally:
            path.chmod(0o644)
        assert "permission denied" in capsys.readouterr().out

    def test_other_files_still_checked(self, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        """An unreadable path does not stop the other files from being checked."""
        warn = write(tmp_path, "warn.md", WARNING_TEXT)
        assert main(["validate", str(tmp_path / "absent.md"), str(warn)]) == 1
        out = capsys.readouterr().out
        assert "GNN-E107" in out
        assert "GNN-W001" in out


def _console_script() -> str | None:
    """The installed ``gnn-registry`` script (beside this interpreter, or on PATH)."""
    beside = Path(sys.executable).parent / "gnn-registry"
    if beside.is_file():
        return str(beside)
    return shutil.which("gnn-registry")


class TestConsoleScript:
    """The installed console script behaves like main()."""

    def test_subprocess(self, tmp_path: Path) -> None:
        """gnn-registry validate prints the finding line and exits 1 on an error."""
        script = _console_script()
        if script is None:
            pytest.skip("the gnn-registry console script is not installed")
        path = write(tmp_path, "bad.md", ERROR_TEXT)
        done = subprocess.run([script, "validate", str(path)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 1
        assert f"{path}:{line_of(ERROR_TEXT, 'C={')}: GNN-E103 error: " in done.stdout
        assert "Traceback" not in done.stderr

"""``gnn-registryd --scan``'s output and exit codes (run_scan, called in-process)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from structlog.testing import capture_logs

from daemon.cmd_scan import ProgressBar, run_scan
from tests.test_scan import config_for, gnn_text, write

HOLD_LOCK = """
import sys, filelock
lock = filelock.FileLock(sys.argv[1], thread_local=False)
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
"""


class TestRunScan:
    def test_all_valid_exits_zero_with_a_summary(self, tmp_path, capsys):
        """A clean scan prints counts and the registry, and exits 0."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        with capture_logs():  # log lines must not mix with the summary in this test
            code = run_scan(config_for(tmp_path), [tmp_path / "models"], json_output=False)
        out = capsys.readouterr().out
        assert code == 0
        assert "1 registered" in out.splitlines()[0]
        assert "model_registry.json (1 models)" in out

    def test_invalid_file_exits_one_and_lists_findings(self, tmp_path, capsys):
        """Invalid files make exit 1 and each blocking finding is printed path:line: CODE."""
        bad = write(tmp_path / "models" / "bad.md", gnn_text("Bad", params=("A={(1.0)}",)))
        write(tmp_path / "models" / "good.md", gnn_text("Good"))
        code = run_scan(config_for(tmp_path), [tmp_path / "models"], json_output=False)
        out = capsys.readouterr().out
        assert code == 1
        lines = [line for line in out.splitlines() if line.startswith(str(bad))]
        assert len(lines) == 1
        assert ": GNN-E002 error: " in lines[0]
        assert lines[0].split(":")[1].isdigit()

    def test_json_output(self, tmp_path, capsys):
        """--json prints the summary with the seed's keys."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        with capture_logs():
            code = run_scan(config_for(tmp_path), [tmp_path / "models"], json_output=True)
        data = json.loads(capsys.readouterr().out)
        assert code == 0
        assert data["processed_files"] == 1
        assert data["successful_registrations"] == 1
        assert data["total_models"] == 1
        assert data["registry_path"].endswith("model_registry.json")
        assert data["exit_code"] == 0

    def test_corrupt_registry_without_backup_exits_two(self, tmp_path, capsys):
        """A registry that cannot be read is fatal: exit 2 and one line on stderr."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "model_registry.json").write_text("{ not json")
        code = run_scan(config_for(tmp_path), [tmp_path / "models"], json_output=False)
        err = capsys.readouterr().err
        assert code == 2
        assert len(err.strip().splitlines()) == 1
        assert "error" in err

    def test_lock_timeout_exits_two(self, tmp_path, capsys):
        """When another process holds the registry lock past the timeout, exit 2."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        (tmp_path / "out").mkdir()
        lock = tmp_path / "out" / "model_registry.sqlite3.lock"
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            config = config_for(tmp_path, lock_timeout=0.3)
            code = run_scan(config, [tmp_path / "models"], json_output=False)
        finally:
            holder.communicate("", timeout=30)
        assert code == 2
        assert "lock" in capsys.readouterr().err


class TestProgressBar:
    def test_small_scans_draw_nothing(self):
        """At most 200 files: no bar at all."""
        stream = io.StringIO()
        bar = ProgressBar(stream)
        for done in range(1, 201):
            bar(done, 200)
        bar.close()
        assert stream.getvalue() == ""

    def test_large_scans_draw_and_erase(self):
        """Over 200 files the bar is drawn, and erased as soon as the last file is done (so
        log lines written after it start on a clean line)."""
        stream = io.StringIO()
        bar = ProgressBar(stream)
        for done in range(1, 1001):
            bar(done, 1000)
        text = stream.getvalue()
        assert "1/1000 files" in text
        assert text.endswith("\r\x1b[K")
        bar.close()
        assert stream.getvalue() == text  # erased once


class TestConsoleScript:
    def test_scan_json_stdout_is_pure_json_and_logs_go_to_stderr(self, tmp_path):
        """`gnn-registryd --scan --json -v` keeps stdout parseable; the JSON log lines (one per
        file with -v) go to stderr."""
        write(tmp_path / "models" / "a.md", gnn_text("A"))
        script = Path(sys.executable).with_name("gnn-registryd")
        proc = subprocess.run(
            [str(script), "--scan", "--json", "-v", "--output-dir", str(tmp_path / "out"),
             str(tmp_path / "models")],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["successful_registrations"] == 1
        events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
        assert any(e["event"] == "file_processed" and e.get("model_id") == "a" for e in events)

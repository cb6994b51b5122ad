"""Tests for `gnn-registry logs`: rendering, filters, --json, and following a growing file."""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daemon import cmd_logs
from daemon.common import add_common_options
from daemon.logview import LogFilter, LogView, Renderer, parse_line

REPO = Path(__file__).resolve().parents[1]
DEADLINE = 30.0  # generous: a loaded 2-core CI machine starts subprocesses slowly

# The wiring daemon.cli uses, limited to the `logs` command (other commands are not needed).
PARSER_SCRIPT = """
import argparse, sys
from daemon.common import add_common_options
from daemon import cmd_logs
parser = argparse.ArgumentParser(prog="gnn-registry")
common = argparse.ArgumentParser(add_help=False)
add_common_options(common)
cmd_logs.register(parser.add_subparsers(dest="command", required=True), common)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def build_parser() -> argparse.ArgumentParser:
    """A `gnn-registry` parser holding only the `logs` sub-command."""
    parser = argparse.ArgumentParser(prog="gnn-registry")
    common = argparse.ArgumentParser(add_help=False)
    add_common_options(common)
    cmd_logs.register(parser.add_subparsers(dest="command", required=True), common)
    return parser


def run(argv: list[str]) -> int:
    """Parse ``argv`` and run its handler in-process."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


def record(**fields: object) -> str:
    """One JSON log line as the daemon writes it."""
    base: dict[str, object] = {"timestamp": "2026-05-01T12:00:00.123456Z", "level": "info",
                               "event": "registered"}
    base.update(fields)
    return json.dumps(base)


def write_log(path: Path, *lines: str) -> Path:
    """Write ``lines`` (newline-terminated) to ``path``."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


class TestRender:
    def test_unit_of_work_line(self, tmp_path, capsys):
        """A registration renders time, level, event, path, model@version, change, findings, ms."""
        log = write_log(tmp_path / "d.log", record(
            path="models/a.md", model="a", version="1.2.0", change="minor",
            findings=[{"code": "W101"}, {"code": "W202"}], duration_ms=12.34, generation=4))
        assert run(["logs", str(log), "--utc"]) == 0
        words = capsys.readouterr().out.split()
        assert words == ["12:00:00.123", "INFO", "registered", "models/a.md", "a@1.2.0",
                         "minor", "findings=W101,W202", "12.3ms", "generation=4"]

    def test_local_time_by_default(self, tmp_path, capsys, monkeypatch):
        """Without --utc the time is shown in the local time zone."""
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        try:
            run(["logs", str(write_log(tmp_path / "d.log", record()))])
        finally:
            monkeypatch.undo()
            time.tzset()
        assert capsys.readouterr().out.startswith("21:00:00.123 INFO")

    def test_newline_in_path_stays_on_one_line(self, tmp_path, capsys):
        """A file name with a newline and JSON is escaped and cannot forge a second record."""
        log = write_log(tmp_path / "d.log", record(path='x\n{"event": "forged"}', note="a b"))
        run(["logs", str(log), "--utc"])
        out = capsys.readouterr().out
        assert out.count("\n") == 1
        assert "x\\n{" in out
        assert 'note="a b"' in out

    def test_non_json_lines_are_printed_as_is(self, tmp_path, capsys):
        """A line that is not JSON is printed unchanged between rendered records."""
        log = write_log(tmp_path / "d.log", record(event="one"), "plain text here",
                        record(event="two"))
        run(["logs", str(log), "--utc"])
        lines = capsys.readouterr().out.splitlines()
        assert lines[1] == "plain text here"
        assert [line.split()[2] for line in (lines[0], lines[2])] == ["one", "two"]

    def test_journal_prefix_is_dropped(self, tmp_path, capsys):
        """A journalctl line (date host ident[pid]: {json}) is rendered as its record."""
        log = write_log(tmp_path / "d.log",
                        "May 01 12:00:00 host gnn-registryd[42]: " + record(event="started"))
        run(["logs", str(log), "--utc"])
        assert capsys.readouterr().out.split()[:3] == ["12:00:00.123", "INFO", "started"]

    def test_structured_exception_is_rendered_below(self, tmp_path, capsys):
        """A dict_tracebacks exception is shown as indented type, value and frames."""
        exc = [{"exc_type": "OSError", "exc_value": "disk full",
                "frames": [{"filename": "store.py", "lineno": 10, "name": "write"}]}]
        run(["logs", str(write_log(tmp_path / "d.log", record(level="error", exception=exc)))])
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].strip() == "OSError: disk full"
        assert lines[2].strip() == "at store.py:10 in write"

    def test_colour_only_when_asked_or_on_a_terminal(self, tmp_path, capsys):
        """Output to a pipe has no escape codes; --color always adds them."""
        log = write_log(tmp_path / "d.log", record(level="error"))
        run(["logs", str(log)])
        assert "\x1b[" not in capsys.readouterr().out
        run(["logs", str(log), "--color", "always"])
        assert "\x1b[" in capsys.readouterr().out

    def test_stdin_is_read_when_no_file(self, capsys, monkeypatch):
        """Without FILE (or with -) the lines come from standard input."""
        data = (record(event="from_stdin") + "\n").encode()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert run(["logs", "--utc"]) == 0
        assert capsys.readouterr().out.split()[2] == "from_stdin"

    def test_missing_file_is_an_error(self, tmp_path, capsys):
        """A FILE that does not exist gives exit 1 and a message on stderr."""
        assert run(["logs", str(tmp_path / "none.log")]) == 1
        assert "none.log" in capsys.readouterr().err


class TestFilters:
    LINES = (
        record(event="settled", level="debug", model="a"),
        record(event="registered", model="a", version="1.0.0"),
        record(event="registered", model_id="b", version="2.0.0"),
        record(event="registry_write_failed", level="error", timestamp="2026-05-01T13:00:00Z"),
    )

    def events(self, tmp_path, capsys, *flags):
        """The event names shown for LINES with ``flags``."""
        log = write_log(tmp_path / "f.log", *self.LINES)
        assert run(["logs", str(log), "--utc", *flags]) == 0
        return [line.split()[2] for line in capsys.readouterr().out.splitlines()]

    def test_min_level(self, tmp_path, capsys):
        """--level hides records below it."""
        assert self.events(tmp_path, capsys, "--level", "info") == [
            "registered", "registered", "registry_write_failed"]
        assert self.events(tmp_path, capsys, "--level", "error") == ["registry_write_failed"]

    def test_model_matches_model_and_model_id(self, tmp_path, capsys):
        """--model selects records whose model or model_id is one of the given ids."""
        assert self.events(tmp_path, capsys, "--model", "a") == ["settled", "registered"]
        assert self.events(tmp_path, capsys, "--model", "b", "--model", "zz") == ["registered"]

    def test_event_glob(self, tmp_path, capsys):
        """--event takes exact names and glob patterns."""
        assert self.events(tmp_path, capsys, "--event", "registry_*") == [
            "registry_write_failed"]
        assert self.events(tmp_path, capsys, "--event", "settled") == ["settled"]

    def test_since(self, tmp_path, capsys):
        """--since hides earlier records; a naive time is read as UTC with --utc."""
        assert self.events(tmp_path, capsys, "--since", "2026-05-01T12:30:00") == [
            "registry_write_failed"]
        assert self.events(tmp_path, capsys, "--since", "2026-05-01T14:30:00+02:00") == [
            "registry_write_failed"]

    def test_bad_since_is_a_usage_error(self, tmp_path):
        """An unparsable --since is refused by the argument parser."""
        with pytest.raises(SystemExit) as info:
            run(["logs", str(tmp_path / "x"), "--since", "yesterday-ish"])
        assert info.value.code == 2

    def test_text_after_a_hidden_record_is_hidden(self, tmp_path, capsys):
        """Continuation text (a traceback) after a filtered-out record is hidden with it."""
        log = write_log(tmp_path / "c.log", record(event="noise", level="debug"),
                        "Traceback of noise", record(event="kept"), "detail of kept")
        run(["logs", str(log), "--level", "info"])
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2
        assert lines[1] == "detail of kept"

    def test_json_passes_matching_lines_unchanged(self, tmp_path, capsys):
        """--json writes the matching records exactly as read, and no non-JSON lines."""
        log = write_log(tmp_path / "j.log", *self.LINES, "not json")
        run(["logs", str(log), "--json", "--model", "a"])
        assert capsys.readouterr().out.splitlines() == [self.LINES[0], self.LINES[1]]


class TestParseLine:
    def test_json_array_is_not_a_record(self):
        """Only JSON objects are records; other JSON values are plain text."""
        assert parse_line("[1, 2]\n") == (None, "[1, 2]")

    def test_braces_in_plain_text_are_not_a_record(self):
        """Text containing a JSON object without an event after a prefix stays text."""
        assert parse_line("state: {\"a\": 1}")[0] is None

    def test_view_counts_written_lines(self):
        """LogView.feed reports whether it wrote the line."""
        out = io.StringIO()
        view = LogView(out, log_filter=LogFilter(min_level=30), renderer=Renderer(utc=True))
        assert view.feed(record(level="info")) is False
        assert view.feed(record(level="warning")) is True
        assert out.getvalue().split()[1] == "WARN"


def wait_for(predicate, what):
    """Poll ``predicate`` until it is true or DEADLINE passes."""
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class TestFollowFile:
    def follow(self, path: Path) -> tuple[list[str], threading.Event, threading.Thread]:
        """Start follow_file on ``path`` in a thread collecting lines."""
        seen: list[str] = []
        stop = threading.Event()

        def feed(line: str) -> bool:
            seen.append(line)
            return True

        thread = threading.Thread(target=cmd_logs.follow_file, args=(path, feed),
                                  kwargs={"interval": 0.02, "stop": stop})
        thread.start()
        return seen, stop, thread

    def test_appended_lines_arrive_in_order(self, tmp_path):
        """Lines appended after following started are delivered in order, whole."""
        path = write_log(tmp_path / "g.log", "one")
        seen, stop, thread = self.follow(path)
        try:
            wait_for(lambda: seen == ["one"], "the existing line")
            with path.open("a", encoding="utf-8") as handle:
                handle.write("tw")
                handle.flush()
                handle.write("o\nthree\n")
            wait_for(lambda: seen == ["one", "two", "three"], "appended lines")
        finally:
            stop.set()
            thread.join(DEADLINE)
        assert not thread.is_alive()

    def test_truncation_starts_over(self, tmp_path):
        """A file truncated in place is read again from its start."""
        path = write_log(tmp_path / "t.log", "old-1", "old-2")
        seen, stop, thread = self.follow(path)
        try:
            wait_for(lambda: len(seen) == 2, "the existing lines")
            path.write_text("new\n", encoding="utf-8")
            wait_for(lambda: seen[-1:] == ["new"], "the line after truncation")
        finally:
            stop.set()
            thread.join(DEADLINE)

    def test_rotation_reopens_the_path(self, tmp_path):
        """A rotated file is drained, then the new file at the path is followed."""
        path = write_log(tmp_path / "r.log", "before")
        seen, stop, thread = self.follow(path)
        try:
            wait_for(lambda: seen == ["before"], "the existing line")
            with path.open("a", encoding="utf-8") as handle:
                handle.write("last-in-old\n")
            path.rename(tmp_path / "r.log.1")
            write_log(path, "first-in-new")
            wait_for(lambda: seen[-1:] == ["first-in-new"], "the new file's line")
        finally:
            stop.set()
            thread.join(DEADLINE)
        assert seen == ["before", "last-in-old", "first-in-new"]


class TestFollowProcess:
    def test_follow_then_sigint_exits_0(self, tmp_path):
        """`logs -f` shows appended records as they come and exits 0 on SIGINT."""
        path = write_log(tmp_path / "p.log", record(event="existing"))
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", PARSER_SCRIPT, "logs", "-f", str(path), "--utc",
             "--poll-interval", "0.05"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        assert proc.stdout is not None
        assert proc.stderr is not None
        stdout, stderr = proc.stdout, proc.stderr
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in stdout:
                lines.put(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            assert lines.get(timeout=DEADLINE).split()[2] == "existing"
            with path.open("a", encoding="utf-8") as handle:
                handle.write(record(event="appended", model="m", version="1.0.1") + "\n")
            words = lines.get(timeout=DEADLINE).split()
            assert words[2:4] == ["appended", "m@1.0.1"]
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=DEADLINE) == 0
            assert "Traceback" not in stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stdout.close()
            stderr.close()

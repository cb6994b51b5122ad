"""Tests for daemon.logconfig: JSON lines off a terminal, console on one, stdlib bridged."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog

from daemon.logconfig import configure_logging, reset_logging, resolve_format
from registry.config import Config


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    """Every test starts and ends with structlog's defaults and a clean root logger."""
    reset_logging()
    yield
    reset_logging()
    structlog.contextvars.clear_contextvars()


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """The JSON objects written to ``stream``, one per line."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestJsonOutput:
    def test_auto_is_json_off_a_terminal(self):
        """With format auto and a non-terminal stream every line is a JSON object."""
        out = io.StringIO()
        configure_logging(Config(), stream=out)
        structlog.get_logger().info("registered", path="a.md", version="1.0.0")
        (record,) = lines_of(out)
        assert record["event"] == "registered"
        assert record["level"] == "info"
        assert record["path"] == "a.md"
        assert record["version"] == "1.0.0"

    def test_timestamp_is_iso_utc(self):
        """Every line has an ISO-8601 UTC timestamp."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        structlog.get_logger().warning("x")
        stamp = str(lines_of(out)[0]["timestamp"])
        assert stamp.endswith("Z")
        assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)

    def test_bound_context_is_merged(self):
        """Values bound with contextvars appear on every line logged inside the binding."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        with structlog.contextvars.bound_contextvars(model="m1", job=7):
            structlog.get_logger().info("settled")
        structlog.get_logger().info("idle")
        first, second = lines_of(out)
        assert (first["model"], first["job"]) == ("m1", 7)
        assert "model" not in second

    def test_newline_in_path_cannot_forge_a_line(self):
        """A file name containing a newline and JSON stays inside one escaped line."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        evil = 'models/x.md\n{"event": "forged", "level": "error"}'
        structlog.get_logger().info("registered", path=evil)
        records = lines_of(out)
        assert len(records) == 1
        assert records[0]["event"] == "registered"
        assert records[0]["path"] == evil

    def test_non_ascii_is_escaped(self):
        """JSON lines keep ensure_ascii: Greek names and separators are escaped to ASCII."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        structlog.get_logger().info("parsed", variable="π\u2028")
        text = out.getvalue()
        assert text.isascii()
        assert lines_of(out)[0]["variable"] == "π\u2028"

    def test_exception_is_structured_without_locals(self):
        """An exception is logged as data (type, value, frames) and never with frame locals."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        secret = "do-not-log-me"
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            structlog.get_logger().exception("write_failed")
        record = lines_of(out)[0]
        (exc,) = record["exception"]
        assert exc["exc_type"] == "OSError"
        assert "No space left" in exc["exc_value"]
        assert exc["frames"]
        assert secret not in out.getvalue()

    def test_lines_are_flushed_at_once(self, tmp_path):
        """Each line reaches a buffered file immediately (journald and `logs -f` see it)."""
        path = tmp_path / "log.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            configure_logging(fmt="json", stream=handle)
            structlog.get_logger().info("first")
            assert json.loads(path.read_text())["event"] == "first"


    def test_default_stream_is_stdout_looked_up_per_write(self):
        """A cached logger on the default stream follows a later redirection of sys.stdout."""
        configure_logging(fmt="json")
        log = structlog.get_logger()
        first, second = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(first):
            log.info("one")
        with contextlib.redirect_stdout(second):
            log.info("two")
        assert [r["event"] for r in lines_of(first)] == ["one"]
        assert [r["event"] for r in lines_of(second)] == ["two"]

    def test_stderr_stream_for_commands(self):
        """Passing sys.stderr keeps logs off stdout, where a command prints its results."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            configure_logging(fmt="json", stream=sys.stderr)
            structlog.get_logger().warning("lock_slow")
            logging.getLogger("filelock").warning("stale lock")
        assert out.getvalue() == ""
        assert [r["event"] for r in lines_of(err)] == ["lock_slow", "stale lock"]


class TestLevels:
    def test_default_level_hides_debug(self):
        """At the default level (info) debug events cost nothing and print nothing."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        log = structlog.get_logger()
        log.debug("noise")
        log.info("kept")
        assert [r["event"] for r in lines_of(out)] == ["kept"]

    def test_config_level_is_used(self):
        """config.log_level sets the lowest level written."""
        out = io.StringIO()
        configure_logging(Config(log_level="error"), fmt="json", stream=out)
        log = structlog.get_logger()
        log.warning("hidden")
        log.error("shown")
        assert [r["event"] for r in lines_of(out)] == ["shown"]

    def test_explicit_level_overrides_config(self):
        """The level argument (the --log-level flag) wins over config.log_level."""
        out = io.StringIO()
        configure_logging(Config(log_level="error"), level="debug", fmt="json", stream=out)
        structlog.get_logger().debug("shown")
        assert [r["event"] for r in lines_of(out)] == ["shown"]

    def test_unknown_level_is_refused(self):
        """An unknown level is a ValueError, not a silent default."""
        with pytest.raises(ValueError, match="log level"):
            configure_logging(level="chatty", stream=io.StringIO())


class TestFormats:
    def test_console_format_is_not_json(self):
        """fmt=console renders readable text with the event and its values."""
        out = io.StringIO()
        configure_logging(fmt="console", stream=out)
        structlog.get_logger().info("registered", model="m1")
        text = out.getvalue()
        assert "registered" in text
        assert " m1" in text  # the model, rendered as `gnn-registry logs` shows it
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)

    def test_console_keeps_forged_event_on_one_line(self):
        """On the console an event text with a newline is escaped, not split."""
        out = io.StringIO()
        configure_logging(fmt="console", stream=out)
        structlog.get_logger().info("a\nb", path="x\ny")
        assert len(out.getvalue().splitlines()) == 1

    def test_auto_is_console_on_a_terminal(self):
        """With format auto a terminal stream gets the console renderer."""
        master, slave = os.openpty()
        try:
            with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as tty:
                assert resolve_format("auto", tty) == "console"
                configure_logging(Config(log_format="auto"), stream=tty)
                structlog.get_logger().info("hello_tty")
                data = os.read(master, 65536).decode("utf-8", "replace")
        finally:
            os.close(master)
        assert "hello_tty" in data
        assert not data.lstrip().startswith("{")

    def test_config_format_overridden_by_fmt(self):
        """The fmt argument (--log-format) wins over config.log_format."""
        out = io.StringIO()
        configure_logging(Config(log_format="console"), fmt="json", stream=out)
        structlog.get_logger().info("x")
        assert lines_of(out)[0]["event"] == "x"

    def test_unknown_format_is_refused(self):
        """An unknown format is a ValueError."""
        with pytest.raises(ValueError, match="log format"):
            configure_logging(fmt="xml", stream=io.StringIO())


class TestStdlibBridge:
    def test_stdlib_warnings_become_json_lines(self):
        """A watchdog/filelock warning through stdlib logging comes out as a JSON line."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        logging.getLogger("watchdog.observers").warning("inotify %s", "limit")
        (record,) = lines_of(out)
        assert record["event"] == "inotify limit"
        assert record["level"] == "warning"
        assert record["logger"] == "watchdog.observers"
        assert "timestamp" in record

    def test_stdlib_info_is_dropped(self):
        """Stdlib records below WARNING are not written, even at --log-level debug."""
        out = io.StringIO()
        configure_logging(fmt="json", level="debug", stream=out)
        logging.getLogger("filelock").info("acquired")
        logging.getLogger("filelock").debug("acquired")
        assert out.getvalue() == ""

    def test_stdlib_exception_is_structured(self):
        """A stdlib exception record carries a structured exception."""
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        try:
            raise RuntimeError("emitter died")
        except RuntimeError:
            logging.getLogger("watchdog").exception("observer failed")
        record = lines_of(out)[0]
        assert record["exception"][0]["exc_type"] == "RuntimeError"

    def test_reconfiguring_does_not_duplicate_lines(self):
        """Configuring twice leaves one handler: each stdlib record is written once."""
        first, second = io.StringIO(), io.StringIO()
        configure_logging(fmt="json", stream=first)
        configure_logging(fmt="json", stream=second)
        logging.getLogger("watchdog").warning("once")
        assert first.getvalue() == ""
        assert len(lines_of(second)) == 1

    def test_reset_restores_root_logger(self):
        """reset_logging removes our handler and restores the root level."""
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        configure_logging(fmt="json", level="error", stream=io.StringIO())
        assert len(root.handlers) == len(handlers) + 1
        reset_logging()
        assert root.handlers == handlers
        assert root.level == level

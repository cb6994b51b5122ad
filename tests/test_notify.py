"""Tests for daemon.notify: the sd_notify protocol over a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from daemon.notify import Notifier


@pytest.fixture(name="notify_socket")
def _notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound SOCK_DGRAM socket in tmp_path standing in for systemd's notify socket."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def receive(sock: socket.socket) -> list[str]:
    """The assignments of the next datagram on ``sock``."""
    return sock.recv(4096).decode("utf-8").split("\n")


class TestFromEnv:
    def test_disabled_without_notify_socket(self):
        """Without NOTIFY_SOCKET the notifier is disabled and every call reports False."""
        notifier = Notifier.from_env({})
        assert not notifier.enabled
        with capture_logs() as logs:
            assert notifier.ready() is False
            assert notifier.watchdog() is False
            assert notifier.status("x") is False
        assert logs == []

    def test_empty_notify_socket_is_disabled(self):
        """An empty NOTIFY_SOCKET counts as unset."""
        assert not Notifier.from_env({"NOTIFY_SOCKET": ""}).enabled

    def test_watchdog_interval_is_half_of_watchdog_usec(self):
        """WATCHDOG_USEC=30 s gives a ping interval of 15 s."""
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"})
        assert notifier.watchdog_interval == pytest.approx(15.0)

    def test_watchdog_pid_of_this_process_applies(self):
        """WATCHDOG_PID naming this process keeps the watchdog enabled."""
        env = {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
        assert Notifier.from_env(env).watchdog_interval == pytest.approx(0.1)

    def test_watchdog_pid_of_another_process_disables(self):
        """WATCHDOG_PID naming another process (a parent) disables the watchdog for us."""
        env = {"WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid() + 1)}
        assert Notifier.from_env(env).watchdog_interval is None

    def test_no_watchdog_usec_means_no_interval(self):
        """Without WATCHDOG_USEC there is no watchdog interval."""
        assert Notifier.from_env({"NOTIFY_SOCKET": "/x"}).watchdog_interval is None

    def test_invalid_watchdog_usec_is_logged_and_ignored(self):
        """A non-numeric WATCHDOG_USEC disables the watchdog with a warning."""
        with capture_logs() as logs:
            notifier = Notifier.from_env({"WATCHDOG_USEC": "soon"})
        assert notifier.watchdog_interval is None
        assert [e["event"] for e in logs] == ["sd_watchdog_env_invalid"]


class TestSend:
    def test_ready_sends_ready_1(self, notify_socket):
        """ready() delivers the datagram READY=1."""
        sock, path = notify_socket
        assert Notifier.from_env({"NOTIFY_SOCKET": path}).ready() is True
        assert receive(sock) == ["READY=1"]

    def test_ready_with_status_is_one_datagram(self, notify_socket):
        """ready(status) sends READY=1 and STATUS= together."""
        sock, path = notify_socket
        Notifier(path).ready("watching 2 directories")
        assert receive(sock) == ["READY=1", "STATUS=watching 2 directories"]

    def test_each_message_kind(self, notify_socket):
        """stopping, watchdog, status and extend_timeout send their documented assignments."""
        sock, path = notify_socket
        notifier = Notifier(path)
        assert notifier.stopping()
        assert receive(sock) == ["STOPPING=1"]
        assert notifier.watchdog()
        assert receive(sock) == ["WATCHDOG=1"]
        assert notifier.status("3 models")
        assert receive(sock) == ["STATUS=3 models"]
        assert notifier.extend_timeout(90_000_000)
        assert receive(sock) == ["EXTEND_TIMEOUT_USEC=90000000"]

    def test_reloading_carries_monotonic_usec(self, notify_socket):
        """reloading() sends RELOADING=1 with the CLOCK_MONOTONIC time in microseconds."""
        sock, path = notify_socket
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        Notifier(path).reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        first, second = receive(sock)
        assert first == "RELOADING=1"
        key, value = second.split("=")
        assert key == "MONOTONIC_USEC"
        assert before <= int(value) <= after

    def test_status_cannot_inject_assignments(self, notify_socket):
        """A newline in a status text (a file name) cannot smuggle in another assignment."""
        sock, path = notify_socket
        Notifier(path).status("bad\nREADY=1\0x")
        assert receive(sock) == ["STATUS=bad READY=1 x"]

    def test_abstract_namespace_socket(self):
        """An @name NOTIFY_SOCKET reaches a socket bound in the abstract namespace."""
        name = f"gnn-registry-test-{uuid.uuid4().hex}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind("\0" + name)
            sock.settimeout(5)
            assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).watchdog() is True
            assert receive(sock) == ["WATCHDOG=1"]

    def test_several_fields_joined_by_newlines(self, notify_socket):
        """send() joins its fields with newlines into one datagram."""
        sock, path = notify_socket
        assert Notifier(path).send("READY=1", "STATUS=ok", "MAINPID=1")
        assert receive(sock) == ["READY=1", "STATUS=ok", "MAINPID=1"]


class TestFailures:
    def test_missing_socket_is_logged_and_false(self, tmp_path):
        """A NOTIFY_SOCKET that does not exist yields False and an sd_notify_failed warning."""
        notifier = Notifier(str(tmp_path / "gone.sock"))
        with capture_logs() as logs:
            assert notifier.ready() is False
        assert len(logs) == 1
        assert logs[0]["event"] == "sd_notify_failed"
        assert logs[0]["log_level"] == "warning"
        assert logs[0]["fields"] == ["READY=1"]
        assert logs[0]["socket"] == str(tmp_path / "gone.sock")

    def test_non_socket_path_is_logged_and_false(self, tmp_path):
        """A regular file as NOTIFY_SOCKET fails visibly instead of raising."""
        path = tmp_path / "plain"
        path.write_text("")
        with capture_logs() as logs:
            assert Notifier(str(path)).watchdog() is False
        assert [e["event"] for e in logs] == ["sd_notify_failed"]

    def test_unsupported_address_is_logged_and_false(self):
        """A NOTIFY_SOCKET that is neither a path nor @name is refused with a warning."""
        with capture_logs() as logs:
            assert Notifier("vsock:2:1234").ready() is False
        assert [e["event"] for e in logs] == ["sd_notify_failed"]

    def test_field_with_newline_is_refused(self, notify_socket):
        """send() refuses a field containing a newline rather than splitting it."""
        sock, path = notify_socket
        with capture_logs() as logs:
            assert Notifier(path).send("STATUS=a\nWATCHDOG=1") is False
        assert [e["event"] for e in logs] == ["sd_notify_failed"]
        sock.settimeout(0.05)
        with pytest.raises(TimeoutError):
            sock.recv(4096)

    def test_send_error_is_not_raised(self, notify_socket, monkeypatch):
        """An OSError from the socket layer is returned as False, not raised."""
        _sock, path = notify_socket

        def refuse(self, data):
            raise BlockingIOError(11, "Resource temporarily unavailable")

        monkeypatch.setattr(socket.socket, "send", refuse)
        with capture_logs() as logs:
            assert Notifier(path).ready() is False
        assert logs[0]["event"] == "sd_notify_failed"
        assert logs[0]["errno"] == 11

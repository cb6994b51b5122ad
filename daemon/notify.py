"""The systemd notification protocol (``sd_notify``), without any dependency.

systemd documents the protocol as stable: one datagram of newline-separated ``KEY=VALUE``
assignments sent to the ``AF_UNIX`` socket named by ``$NOTIFY_SOCKET``. A name starting
with ``@`` lives in the abstract namespace (the ``@`` becomes a NUL byte). Without
``$NOTIFY_SOCKET`` (not started by systemd, or ``Type=simple``) every call is a no-op.

Failures to deliver are logged as the structlog warning ``sd_notify_failed`` and returned
as ``False``; they never raise into the caller (a service must not die because its
supervisor's socket hiccuped) and are never silent either.

A new socket is opened per message: messages are rare (start, reload, stop, a watchdog ping
every few seconds), it keeps the class free of shared state between threads, and it
survives a ``fork``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

_UNSAFE = {ord("\n"): " ", ord("\r"): " ", ord("\0"): " "}
"""Characters that would end an assignment early (or truncate the datagram) in a field."""


def _socket_address(name: str) -> str | None:
    """The ``AF_UNIX`` address for ``$NOTIFY_SOCKET``, or ``None`` when unsupported."""
    if name.startswith("@"):
        # Abstract namespace: Linux names it with a leading NUL byte instead of a path.
        return "\0" + name[1:]
    if name.startswith("/"):
        return name
    # vsock:CID:PORT and anything else: not something this daemon is ever started with.
    return None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds when the watchdog applies to this process."""
    raw_usec = environ.get("WATCHDOG_USEC")
    if not raw_usec:
        return None
    raw_pid = environ.get("WATCHDOG_PID")
    try:
        usec = int(raw_usec)
        # WATCHDOG_PID names the process the watchdog is meant for; a child that inherited
        # the variables must not ping on its parent's behalf (sd_watchdog_enabled(3)).
        if raw_pid and int(raw_pid) != os.getpid():
            return None
    except ValueError:
        structlog.get_logger(__name__).warning(
            "sd_watchdog_env_invalid", watchdog_usec=raw_usec, watchdog_pid=raw_pid)
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000


class Notifier:
    """Sends state changes to systemd over ``$NOTIFY_SOCKET``; a no-op when it is unset.

    Attributes:
        socket_name: the value of ``$NOTIFY_SOCKET`` (``None`` when unset).
        watchdog_interval: seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``),
            or ``None`` when no watchdog is configured for this process.
    """

    __slots__ = ("_address", "socket_name", "watchdog_interval")

    def __init__(self, socket_name: str | None = None, *,
                 watchdog_interval: float | None = None) -> None:
        """Create a notifier for ``socket_name`` (``None`` or empty: disabled).

        Args:
            socket_name: a filesystem path or an ``@abstract`` name, as in ``$NOTIFY_SOCKET``.
            watchdog_interval: seconds between watchdog pings, if the caller knows them.
        """
        self.socket_name = socket_name or None
        self._address = _socket_address(socket_name) if socket_name else None
        self.watchdog_interval = watchdog_interval

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """A notifier configured from ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC``, ``$WATCHDOG_PID``.

        Args:
            environ: the environment to read (the process environment by default).

        Returns:
            A notifier; disabled when ``$NOTIFY_SOCKET`` is unset or empty.
        """
        return cls(environ.get("NOTIFY_SOCKET") or None,
                   watchdog_interval=_watchdog_interval(environ))

    @property
    def enabled(self) -> bool:
        """Whether ``$NOTIFY_SOCKET`` was given, i.e. whether messages are sent at all."""
        return self.socket_name is not None

    def send(self, *fields: str) -> bool:
        """Send one datagram made of ``fields`` (each ``KEY=VALUE``), joined by newlines.

        Args:
            fields: assignments such as ``"READY=1"``; none may contain a newline.

        Returns:
            ``True`` when systemd's socket accepted the datagram; ``False`` when disabled or
            when sending failed (the failure is logged as ``sd_notify_failed``).
        """
        if self.socket_name is None or not fields:
            return False
        log = structlog.get_logger(__name__)
        bad = [f for f in fields if "=" not in f or f != f.translate(_UNSAFE)]
        if bad:
            log.warning("sd_notify_failed", socket=self.socket_name, fields=list(fields),
                        error="each field must be KEY=VALUE on one line")
            return False
        if self._address is None:
            log.warning("sd_notify_failed", socket=self.socket_name, fields=list(fields),
                        error="unsupported NOTIFY_SOCKET address (expected a path or @name)")
            return False
        payload = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # connect() first so a missing socket is ECONNREFUSED/ENOENT, not a silent drop.
                sock.connect(self._address)
                sent = sock.send(payload)
        except OSError as exc:
            log.warning("sd_notify_failed", socket=self.socket_name, fields=list(fields),
                        error=exc.strerror or str(exc), errno=exc.errno)
            return False
        if sent != len(payload):  # pragma: no cover - datagrams are sent whole or not at all
            log.warning("sd_notify_failed", socket=self.socket_name, fields=list(fields),
                        error=f"short send: {sent} of {len(payload)} bytes")
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up (or a reload) finished: ``READY=1`` (and ``STATUS=``).

        Args:
            status: an optional status line sent in the same datagram.

        Returns:
            Whether the message was delivered (see :meth:`send`).
        """
        extra = (self._status_field(status),) if status is not None else ()
        return self.send("READY=1", *extra)

    def reloading(self) -> bool:
        """Tell systemd a configuration reload started (``RELOADING=1`` + ``MONOTONIC_USEC``).

        Returns:
            Whether the message was delivered; send :meth:`ready` when the reload is done.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """Tell systemd the service is shutting down (``STOPPING=1``).

        Returns:
            Whether the message was delivered.
        """
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        """Set the one-line status ``systemctl status`` shows (``STATUS=``).

        Args:
            text: free text; newlines and NUL bytes are replaced by spaces so a file name
                can never inject another assignment.

        Returns:
            Whether the message was delivered.
        """
        return self.send(self._status_field(text))

    def watchdog(self) -> bool:
        """Ping the service watchdog (``WATCHDOG=1``); call only while the service is healthy.

        Returns:
            Whether the message was delivered.
        """
        return self.send("WATCHDOG=1")

    def extend_timeout(self, usec: int) -> bool:
        """Ask for ``usec`` more microseconds before the start/stop timeout fires.

        Args:
            usec: the extension, counted from now (``EXTEND_TIMEOUT_USEC=``).

        Returns:
            Whether the message was delivered.
        """
        return self.send(f"EXTEND_TIMEOUT_USEC={max(0, int(usec))}")

    @staticmethod
    def _status_field(text: str) -> str:
        """``STATUS=text`` with characters that would break the datagram replaced."""
        return "STATUS=" + text.translate(_UNSAFE)

    def __repr__(self) -> str:
        return (f"Notifier(socket_name={self.socket_name!r}, "
                f"watchdog_interval={self.watchdog_interval!r})")


__all__ = ["Notifier"]

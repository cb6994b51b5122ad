"""Run the real ``gnn-registryd`` console script as a subprocess and wait on conditions.

Everything waits on a condition with a deadline, never on a fixed sleep:
:meth:`Daemon.wait_log` (a JSON log line matching fields), :meth:`Daemon.wait_registry`
(a predicate on the registry loaded through ``RegistryStore``), :meth:`NotifySocket.wait_for`
(a datagram on the ``NOTIFY_SOCKET`` the test binds). :class:`Daemon` is a context manager that
always terminates and reaps the process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from registry.config import load_config
from registry.model.records import RegistryDoc
from registry.storage.store import RegistryStore

DEADLINE = 30.0
"""Default seconds to wait for a condition (generous: 2 cores shared by many jobs)."""

POLL = 0.02
"""Seconds between two checks of a condition."""


def console_script(name: str = "gnn-registryd") -> Path:
    """The installed console script next to this interpreter."""
    return Path(sys.executable).with_name(name)


def wait_until(predicate: Callable[[], Any], *, timeout: float = DEADLINE,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.0f} s waiting for {what}"
            raise AssertionError(msg)
        time.sleep(POLL)  # polling interval of a condition with a deadline, not a sync sleep


def registry_doc(output_dir: Path) -> RegistryDoc:
    """Load the registry under ``output_dir`` the way any client would."""
    return RegistryStore(load_config(environ={}, overrides={"output_dir": output_dir})).load()


class NotifySocket:
    """An ``AF_UNIX`` datagram socket standing in for systemd's ``NOTIFY_SOCKET``."""

    def __init__(self, directory: Path) -> None:
        path = directory / "notify.sock"
        self._tmpdir: str | None = None
        if len(os.fsencode(path)) > 100:  # sun_path holds 108 bytes
            self._tmpdir = tempfile.mkdtemp(prefix="gnnr-")
            path = Path(self._tmpdir) / "notify.sock"
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.extend(data.decode("utf-8", "replace").splitlines())

    def assignments(self) -> list[str]:
        """Every ``KEY=VALUE`` line received so far, in order."""
        with self._lock:
            return list(self.messages)

    def wait_for(self, line: str, *, after: int = 0, timeout: float = DEADLINE) -> int:
        """Wait for ``line`` (exact, or a ``KEY=`` prefix) at index >= ``after``; return it."""
        def find() -> int | None:
            msgs = self.assignments()
            for i in range(after, len(msgs)):
                if msgs[i] == line or (line.endswith("=") and msgs[i].startswith(line)):
                    return i + 1  # +1 so index 0 is truthy
            return None
        return int(wait_until(find, timeout=timeout, what=f"notify {line!r}")) - 1

    def close(self) -> None:
        """Stop reading and remove the socket."""
        self._stop.set()
        self._sock.close()
        self._thread.join(5)
        self.path.unlink(missing_ok=True)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


class Daemon:
    """One ``gnn-registryd`` subprocess with its stdout (JSON log lines) collected."""

    def __init__(self, args: Sequence[str | os.PathLike[str]], *, output_dir: Path,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.output_dir = output_dir
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(
            ("GNN_REGISTRY_", "NOTIFY_SOCKET", "WATCHDOG_"))}
        full_env.update(env or {})
        argv = [str(console_script()), "--output-dir", str(output_dir), *map(str, args)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, cwd=cwd)
        self.lines: list[str] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            with self._lock:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    # -- logs ------------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Every stdout line parsed as JSON (a non-JSON line fails the test)."""
        with self._lock:
            lines = list(self.lines)
        return [json.loads(line) for line in lines if line.strip()]

    def log_count(self) -> int:
        """How many log lines were read so far (an ``after`` marker for :meth:`wait_log`)."""
        with self._lock:
            return len(self.lines)

    def find_logs(self, event: str, *, after: int = 0, **fields: Any) -> list[dict[str, Any]]:
        """Log events named ``event`` whose fields equal ``fields``, from line ``after`` on."""
        found = []
        for entry in self.events()[after:]:
            if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
                found.append(entry)
        return found

    def wait_log(self, event: str, *, after: int = 0, timeout: float = DEADLINE,
                 **fields: Any) -> dict[str, Any]:
        """Wait for a log event named ``event`` with ``fields``; return it."""
        def find() -> dict[str, Any] | None:
            self._check_running(f"log event {event!r}")
            hits = self.find_logs(event, after=after, **fields)
            return hits[0] if hits else None
        return dict(wait_until(find, timeout=timeout, what=f"log event {event!r} {fields}"))

    def _check_running(self, what: str) -> None:
        if self.proc.poll() is not None:
            msg = (f"gnn-registryd exited with {self.proc.returncode} while waiting for {what}; "
                   f"stderr: {self.stderr[-5:]}; last logs: {self.lines[-5:]}")
            raise AssertionError(msg)

    # -- registry --------------------------------------------------------------------------

    def registry(self) -> RegistryDoc:
        """The current registry."""
        return registry_doc(self.output_dir)

    def wait_registry(self, predicate: Callable[[RegistryDoc], Any], *,
                      timeout: float = DEADLINE, what: str = "registry condition") -> RegistryDoc:
        """Wait until ``predicate(registry)`` is truthy; return that registry."""
        def check() -> RegistryDoc | None:
            self._check_running(what)
            if not (self.output_dir / "model_registry.json").exists():
                return None
            doc = self.registry()
            return doc if predicate(doc) else None
        return wait_until(check, timeout=timeout, what=what)  # type: ignore[no-any-return]

    # -- process ---------------------------------------------------------------------------

    def send(self, sig: int) -> None:
        """Send a signal to the daemon."""
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        """Wait for the process to end; return its exit status."""
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def stop(self, timeout: float = DEADLINE) -> int:
        """SIGTERM and wait; return the exit status."""
        if self.proc.poll() is None:
            self.send(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """Kill (if still running) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for reader in self._readers:
            reader.join(5)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


@contextmanager
def running_daemon(args: Sequence[str | os.PathLike[str]], *, output_dir: Path,
                   env: Mapping[str, str] | None = None, ready: bool = True,
                   timeout: float = DEADLINE) -> Iterator[Daemon]:
    """Start the daemon, wait for ``service_started`` (unless ``ready`` is false), always reap."""
    daemon = Daemon(args, output_dir=output_dir, env=env)
    try:
        if ready:
            daemon.wait_log("service_started", timeout=timeout)
        yield daemon
    finally:
        daemon.kill()


GNN_TEMPLATE = """# GNN Example: {title}
# GNN Version: 1.0

## GNNSection
{section}

## GNNVersionAndFlags
GNN v1

## ModelName
{title}

## ModelAnnotation
A small test model.

## StateSpaceBlock
s[{n},type=float]
o[{n},type=int]
A[{n},{n},type=float]
{extra_vars}
## Connections
s>o
A-o
{extra_edges}
## InitialParameterization
A={matrix}

## Time
Dynamic
DiscreteTime=s
ModelTimeHorizon={horizon}

## Footer
{title}

## Signature
test
"""


def gnn_text(title: str = "Test Model", *, n: int = 2, horizon: int = 10,
             extra_vars: str = "", extra_edges: str = "") -> str:
    """A valid GNN file; vary ``horizon`` for a patch change, ``extra_vars`` for a minor one."""
    rows = ",".join("(" + ",".join("1.0" if i == j else "0.0" for j in range(n)) + ")"
                    for i in range(n))
    section = "".join(ch for ch in title.title() if ch.isalnum()) or "Model"
    return GNN_TEMPLATE.format(title=title, section=section, n=n, horizon=horizon,
                               matrix="{" + rows + "}", extra_vars=extra_vars,
                               extra_edges=extra_edges)


INVALID_GNN = """# GNN Example: Broken
# GNN Version: 1.0

## GNNSection
Broken

## ModelName
Broken model without its state space or connections

## Footer
nothing here
"""
"""Looks like GNN (several section headings) but misses required sections: invalid."""


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = [
    "DEADLINE",
    "INVALID_GNN",
    "Daemon",
    "NotifySocket",
    "console_script",
    "gnn_text",
    "registry_doc",
    "running_daemon",
    "wait_until",
    "write",
]

"""Run the real console scripts (``gnn-registry``, ``gnn-registryd``) as subprocesses.

Output is kept as bytes and decoded strictly (:func:`text`): a command that printed a lone
surrogate or invalid UTF-8 fails the test there. :data:`FORBIDDEN` are the characters that
must never reach a terminal raw (escape sequences, bell, C1 controls, bidirectional
overrides, lone surrogates); :func:`assert_terminal_safe` checks output against them.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.helpers.daemon import console_script

TIMEOUT = 180.0
"""Seconds a command may take before the test fails (generous: a shared, loaded machine)."""

FORBIDDEN = ("\x1b", "\x07", "\x9b", "\x85", "\u202e", "\u2066", "\x00", "\r")
"""Characters that must be escaped in anything printed for a person."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without ``GNN_REGISTRY_*`` settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GNN_REGISTRY_", "NOTIFY_SOCKET"))}
    env.update(extra or {})
    return env


def run(script: str, *args: str | os.PathLike[str] | bytes, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, stdin: Any = subprocess.DEVNULL,
        data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``script`` (``gnn-registry`` or ``gnn-registryd``) with ``args``; bytes output."""
    argv: list[str | bytes] = [str(console_script(script))]
    argv += [a if isinstance(a, bytes) else os.fspath(a) for a in args]
    return subprocess.run(argv, capture_output=True, cwd=cwd, env=clean_env(env),
                          stdin=None if data is not None else stdin, input=data,
                          timeout=TIMEOUT, check=False)


def text(raw: bytes) -> str:
    """Decode command output as strict UTF-8 (anything else fails the test)."""
    return raw.decode("utf-8")


def assert_terminal_safe(output: str) -> None:
    """No character that a terminal would act on, and no lone surrogate."""
    for ch in FORBIDDEN:
        assert ch not in output, f"raw {ch!r} in output: {output!r}"
    assert not any("\ud800" <= ch <= "\udfff" for ch in output), output


def scan(out: Path, *roots: Path | bytes, args: Sequence[str] = (),
         env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``gnn-registryd --scan --output-dir OUT ARGS... ROOTS...``."""
    return run("gnn-registryd", "--scan", "--output-dir", out, *args, *roots, env=env)


def scan_json(out: Path, *roots: Path | bytes, args: Sequence[str] = (),
              env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Exit status and JSON summary of a ``--scan --json``."""
    proc = scan(out, *roots, args=("--json", *args), env=env)
    assert proc.stdout, text(proc.stderr)
    return proc.returncode, json.loads(text(proc.stdout))


def registry_cmd(out: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``gnn-registry ARGS... --output-dir OUT``."""
    return run("gnn-registry", *args, "--output-dir", out)


def run_with_pty(argv: Sequence[str | os.PathLike[str]], *, pty_stream: str,
                 env: Mapping[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with ``pty_stream`` (``stdin`` or ``stderr``) on a pseudo-terminal.

    Returns:
        The exit status, stdout, and what the program wrote to the terminal (for
        ``stderr``; empty for ``stdin``).
    """
    master, slave = pty.openpty()
    kwargs: dict[str, Any] = {"stdout": subprocess.PIPE, "env": clean_env(env)}
    if pty_stream == "stdin":
        kwargs.update(stdin=slave, stderr=subprocess.PIPE)
    else:
        kwargs.update(stdin=subprocess.DEVNULL, stderr=slave)
    proc = subprocess.Popen([os.fspath(a) for a in argv], **kwargs)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    if pty_stream == "stderr":
        reader.start()
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pty_stream == "stderr":
            reader.join(timeout=TIMEOUT)
        os.close(master)
    terminal = b"".join(chunks) if pty_stream == "stderr" else (stderr or b"")
    return proc.returncode, stdout, terminal


__all__ = [
    "FORBIDDEN",
    "TIMEOUT",
    "assert_terminal_safe",
    "clean_env",
    "registry_cmd",
    "run",
    "run_with_pty",
    "scan",
    "scan_json",
    "text",
]

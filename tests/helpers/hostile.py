"""A folder of hostile inputs for the scanner and the service, with what each must become.

:func:`build_hostile_tree` writes the files and returns, per file name, the expected outcome:
``registered`` (a valid model despite its odd name or encoding), ``invalid`` (a clear
finding), ``skipped`` (a logged skip), or ``absent`` (never registered, e.g. a symlink that
leaves the root, which is not followed by default).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers.daemon import gnn_text

MAX_FILE_SIZE = 2_500_000
"""``max_file_size`` the hostile tests run with (the million-line file fits, big.md not)."""

ODD_NAMES = ("new\nline", "with space", "-leading-dash", "\u202ertl-mark", "e\u0301-combining",
             "\U0001f600-emoji", "tab\there", "quote\"and'apostrophe")
"""File stems that must still become valid, safe ids."""


def _valid(title: str) -> str:
    return gnn_text(title)


def build_hostile_tree(root: Path, outside: Path) -> dict[str, str]:
    """Write every hostile input under ``root`` (``outside`` is a folder beside it).

    Returns:
        ``{file name: expected outcome}``.
    """
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (root / name).write_bytes(data)
        expect[name] = outcome

    valid = _valid("Control Model")
    put("control.md", valid.encode(), "registered")
    put("binary.md", bytes(range(256)) * 64, "invalid")
    put("empty.md", b"", "skipped")
    put("big.md", b"## StateSpaceBlock\n## Connections\n" + b"x" * (MAX_FILE_SIZE + 10),
        "skipped")
    put("million.md", (_valid("Million Lines") + "x\n" * 1_000_000).encode(), "registered")
    deep = "{" + "(" * 10_000 + "1" + ")" * 10_000 + "}"
    put("deep.md", _valid("Deep Literal").replace("A={", "B=" + deep + "\nA={").encode(),
        "registered")
    put("nul.md", _valid("Nul Bytes").replace("## Connections", "## Conn\x00ections").encode(),
        "invalid")
    put("latin1.md", _valid("Contr\u00f4le Latin").encode("latin-1"), "invalid")
    put("bom.md", b"\xef\xbb\xbf" + _valid("Bom Model").encode(), "registered")
    put("crlf.md", _valid("Crlf Model").replace("\n", "\r\n").encode(), "registered")
    put("exec.md", _valid("Exec Model").replace(
        "A={", "B={__import__('os').system('touch PWNED')}\nA={").encode(), "registered")
    for i, stem in enumerate(ODD_NAMES):
        put(f"{stem}.md", _valid(f"Odd Name {i}").encode(), "registered")
    # Symlinks: a loop, a directory loop, one leaving the root (none followed by default).
    (root / "loop_a.md").symlink_to("loop_b.md")
    (root / "loop_b.md").symlink_to("loop_a.md")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..")
    (outside / "secret.md").write_text(_valid("Outside Secret"))
    (root / "escape.md").symlink_to(outside / "secret.md")
    (root / "escape_dir").symlink_to(outside)
    expect.update({"loop_a.md": "absent", "loop_b.md": "absent", "escape.md": "absent"})
    # A FIFO and a socket that look like models: never opened (a blocking open would hang).
    os.mkfifo(root / "fifo.md")
    # A socket inode without a listener (mknod: no 108-byte sun_path limit on deep tmp paths).
    os.mknod(root / "sock.md", 0o600 | stat.S_IFSOCK)
    expect.update({"fifo.md": "skipped", "sock.md": "skipped"})
    return expect


__all__ = ["MAX_FILE_SIZE", "ODD_NAMES", "build_hostile_tree"]

"""Issue 12, items 4, 5 and 7: no input breaks a one-shot scan or registers something wrong.

- a mistyped scan directory is fatal (exit 2) and writes nothing;
- a file rewritten in place by a slow writer during ``--scan`` never registers partial
  content; a file written just before the scan is registered by it; a file that keeps
  changing is reported ``deferred`` (exit 1), after a bounded wait;
- a GNN file with 1,000,000 variables is refused with ``GNN-E108`` naming the limit, and
  the scan stays under 200 MiB of resident memory.

Writers are real subprocesses; the test waits on their pipes, never on sleeps.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import TIMEOUT, clean_env, scan, scan_json, text
from tests.helpers.daemon import console_script, gnn_text, registry_doc, write

WRITER = r"""
import sys, time
target, source, pieces, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
data = open(source, "rb").read()
size = -(-len(data) // pieces)
with open(target, "r+b") as out:        # rewritten in place: same inode, truncated first
    out.truncate(0)
    out.write(data[:size])
    out.flush()
    print("started", flush=True)
    for start in range(size, len(data), size):
        time.sleep(gap)                  # the slow writer being simulated
        out.write(data[start:start + size])
        out.flush()
print("done", flush=True)
"""
"""Rewrites TARGET in place with SOURCE's bytes, in PIECES pieces GAP seconds apart."""

APPENDER = r"""
import sys, threading
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with open(sys.argv[1], "ab") as out:
    print("started", flush=True)
    while not stop.is_set():
        out.write(b"### still writing\n")
        out.flush()
        stop.wait(0.05)                  # the writer that never settles
"""
"""Appends a comment line to a file every 50 ms until its stdin is closed."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TestMistypedDirectory:
    """Item 4: ``--scan`` of a directory that does not exist is fatal, as for the service."""

    def test_missing_directory_exits_2_and_changes_nothing(self, tmp_path: Path) -> None:
        """Exit 2 with the name on stderr; the models of the real folder are not removed."""
        root, out = tmp_path / "models", tmp_path / "out"
        write(root / "a.md", gnn_text("A"))
        assert scan(out, root).returncode == 0
        before = (out / "model_registry.json").read_bytes()
        proc = scan(out, root, tmp_path / "modles")
        assert proc.returncode == 2
        assert "modles does not exist" in text(proc.stderr)
        assert (out / "model_registry.json").read_bytes() == before
        fresh = tmp_path / "fresh"
        assert scan(fresh, tmp_path / "nowhere").returncode == 2
        assert not (fresh / "model_registry.json").exists()


class TestSlowWriters:
    """Item 5: never a half-written file in the registry."""

    def test_file_rewritten_during_scan_registers_only_whole_content(self,
                                                                     tmp_path: Path) -> None:
        """A slow in-place rewrite that starts before the scan: the scan waits for it."""
        root, out = tmp_path / "models", tmp_path / "out"
        old = gnn_text("Slow").encode("utf-8")
        # Its first half alone is a valid model too, as in the stress run that registered
        # partial versions: only the settle logic keeps the half out.
        new = (gnn_text("Slow", horizon=20) + "".join(
            f"### note {i}: appended by the slow writer\n" for i in range(80))).encode("utf-8")
        target = root / "slow.md"
        target.parent.mkdir(parents=True)
        target.write_bytes(old)
        assert scan(out, root).returncode == 0
        source = tmp_path / "new.bin"
        source.write_bytes(new)
        with subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(source), "40",
                               "0.03"], stdout=subprocess.PIPE, text=True) as writer:
            try:
                assert writer.stdout is not None
                assert writer.stdout.readline().strip() == "started"
                code, summary = scan_json(out, root, args=("--settle-ms", "2000"))
                assert writer.wait(timeout=TIMEOUT) == 0
            finally:
                if writer.poll() is None:
                    writer.kill()
        assert code == 0, summary
        assert target.read_bytes() == new
        entry = registry_doc(out).models["slow"]
        assert {v.sha256 for v in entry.versions} <= {_sha(old), _sha(new)}
        assert entry.sha256 == _sha(new)

    def test_file_written_just_before_the_scan_is_registered(self, tmp_path: Path) -> None:
        """A file whose mtime is inside the settle window is waited for, then registered."""
        root, out = tmp_path / "models", tmp_path / "out"
        write(root / "fresh.md", gnn_text("Fresh"))
        code, summary = scan_json(out, root, args=("--settle-ms", "500"))
        assert code == 0, summary
        assert [c["status"] for c in summary["changes"]] == ["registered"]
        assert summary["deferred"] == []

    def test_file_that_keeps_changing_is_deferred(self, tmp_path: Path) -> None:
        """After settle_timeout the file is reported deferred (exit 1), not registered."""
        root, out = tmp_path / "models", tmp_path / "out"
        write(root / "steady.md", gnn_text("Steady"))
        busy = write(root / "busy.md", gnn_text("Busy"))
        with subprocess.Popen([sys.executable, "-c", APPENDER, str(busy)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True) as appender:
            assert appender.stdin is not None
            assert appender.stdout is not None
            try:
                assert appender.stdout.readline().strip() == "started"
                code, summary = scan_json(out, root, args=("--settle-ms", "300"),
                                          env={"GNN_REGISTRY_SETTLE_TIMEOUT": "1"})
            finally:
                appender.stdin.close()
                appender.wait(timeout=TIMEOUT)
        assert code == 1, summary
        assert [d["path"] for d in summary["deferred"]] == [str(busy)]
        assert "settle_timeout" in summary["deferred"][0]["message"]
        assert summary["counts"]["deferred"] == 1
        assert set(registry_doc(out).models) == {"steady"}


RSS_PROBE = r"""
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.buffer.write(proc.stdout)
sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\n")
sys.exit(proc.returncode)
"""
"""Runs a command and prints the peak resident size (KiB) of it and its children."""


class TestHugeModel:
    """Item 7: one huge file cannot blow up memory."""

    def test_million_variables_refused_under_200_mib(self, tmp_path: Path) -> None:
        """GNN-E108 names max_variables; the scan's peak RSS stays under 200 MiB."""
        root, out = tmp_path / "models", tmp_path / "out"
        root.mkdir()
        huge = root / "huge.md"
        with huge.open("w", encoding="utf-8") as handle:
            handle.write("# GNN Example: Huge\n## GNNSection\nHuge\n## ModelName\nHuge\n"
                         "## StateSpaceBlock\n")
            handle.writelines(f"v{i}[2]\n" for i in range(1_000_000))
            handle.write("## Connections\nv0>v1\n")
        assert huge.stat().st_size < 16 * 1024 * 1024  # under max_file_size: it is read
        proc = subprocess.run(
            [sys.executable, "-c", RSS_PROBE, str(console_script("gnn-registryd")), "--scan",
             "--json", "--output-dir", str(out), str(root)],
            capture_output=True, env=clean_env(), timeout=TIMEOUT, check=False)
        peak_kib = int(text(proc.stderr).splitlines()[-1])
        assert proc.returncode == 1, proc.stderr
        summary = json.loads(text(proc.stdout))
        [finding] = summary["invalid"][0]["findings"]
        assert finding["code"] == "GNN-E108"
        assert "max_variables" in finding["message"]
        assert "100,000" in finding["message"]
        assert peak_kib < 200 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
        validate = subprocess.run([str(console_script("gnn-registry")), "validate", str(huge)],
                                  capture_output=True, env=clean_env(), timeout=TIMEOUT,
                                  check=False)
        assert validate.returncode == 1
        assert "GNN-E108" in text(validate.stdout)


class TestReadSettled:
    """The settle logic of one read, with a real write injected during the first read."""

    def test_stat_change_during_the_read_reads_again(self, tmp_path: Path, monkeypatch) -> None:
        """A rewrite landing while the file is read makes it be read again: the bytes
        returned are the new content, never a mix of the two."""
        from registry.scanning import scanio  # noqa: PLC0415 - the module whose read is faulted

        path = tmp_path / "m.md"
        path.write_bytes(b"first half")
        real_read = scanio.os.read
        calls = []

        def read_then_write(fd: int, size: int) -> bytes:
            chunk = real_read(fd, size)
            if not calls:  # one fault, at the first call: an in-place rewrite lands
                with path.open("r+b") as handle:
                    handle.truncate(0)
                    handle.write(b"the second, whole version")
            calls.append(len(chunk))
            return chunk

        monkeypatch.setattr(scanio.os, "read", read_then_write)
        data, st = scanio.read_settled(str(path), 1 << 20, scanio.Settle(0, 5.0))
        assert data == b"the second, whole version"
        assert st.st_size == len(data)
        assert len(calls) >= 3  # the faulted read, its end-of-file probe, then the re-read

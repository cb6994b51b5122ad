"""Issue 12, item 19 (and the exit-code table of the acceptance): the README tells the truth.

The exit-code table lists every status the commands use, the service install does not start
with a `sudo pip install` that PEP 668 refuses, the README says where each mode logs, and the
library example runs and prints variable names (not the count as if it were names).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from daemon.common import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from tests.conftest import REPO
from tests.helpers.cli import TIMEOUT, clean_env, text
from tests.helpers.daemon import gnn_text, write

README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The README text from the heading ``title`` to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", README, re.M)
    assert match, f"no section {title!r}"
    level = len(match.group(1))
    rest = README[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[:end.start()] if end else rest


class TestExitCodes:
    """One table of every exit code, and the commands' constants are all in it."""

    def test_one_table_with_every_code(self) -> None:
        """The "Exit codes" section's rows are exactly 0, 1, 2 and 130."""
        assert len(re.findall(r"^#+ Exit codes$", README, re.M)) == 1
        rows = re.findall(r"^\| \*\*(\d+)\*\* \|", _section("Exit codes"), re.M)
        assert sorted(map(int, rows)) == [0, 1, 2, 130]
        used = {EXIT_OK, EXIT_PROBLEMS, EXIT_FATAL, EXIT_USAGE, EXIT_INTERRUPTED}
        assert used <= set(map(int, rows))
        # No second, diverging list of statuses elsewhere.
        assert "Exit status: **0**" not in README


class TestServiceInstall:
    """The install steps work on a PEP 668 system and say where logs go."""

    def test_virtualenv_first(self) -> None:
        """A virtualenv (or pipx) is the route; no `sudo pip install` into the system."""
        service = _section("Run as a service")
        assert "sudo python3 -m pip install" not in README
        assert service.index("python3 -m venv") < service.index("useradd")
        assert "PEP 668" in service
        assert "pipx" in service

    def test_log_destinations(self) -> None:
        """The service logs to stdout (the journal); --scan to stderr."""
        service = _section("Run as a service")
        assert re.search(r"service writes its log lines to \*\*stdout\*\*.*journal", service,
                         re.S)
        assert re.search(r"`--scan` writes them to \*\*stderr\*\*", service)


class TestLibraryExample:
    """The README's library example runs and prints what it says."""

    def test_example_prints_variable_names(self, tmp_path: Path) -> None:
        """Run the example as written in a folder with input/gnn_files; names come out."""
        block = re.search(r"```python\n(.*?)```", _section("Library (GNN pipeline step 4)"),
                          re.S)
        assert block
        write(tmp_path / "input" / "gnn_files" / "actinf_pomdp_agent.md", gnn_text("POMDP"))
        proc = subprocess.run([sys.executable, "-c", block.group(1)], cwd=tmp_path,
                              capture_output=True, env=clean_env(), timeout=TIMEOUT,
                              check=False)
        assert proc.returncode == 0, text(proc.stderr)
        # The library prints nothing itself: every stdout line is the example's own.
        lines = text(proc.stdout).splitlines()
        assert lines[0] == "1 1"
        assert lines[2] == "POMDP 1.0.0 3 variables"
        assert lines[3] == "['A', 'o', 's']"
        assert re.fullmatch(r"[0-9a-f]{64}", lines[4])
        assert len(lines) == 5

"""Crash safety at the scan level: writers SIGKILLed at random instants and at named steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.storage.failpoints import FAILPOINTS
from tests.helpers.crashcheck import Ack, ForkServer, check_scan_invariants, kill_rounds

CI_ROUNDS = 100


class TestRandomKills:
    def test_hundred_sigkill_rounds_keep_every_acknowledged_version(self, tmp_path: Path) -> None:
        """After each of 100 random SIGKILLs of a scanning writer, every invariant holds."""
        counts = kill_rounds(tmp_path / "out", tmp_path / "models", CI_ROUNDS, seed=11,
                             max_delay=0.12)
        assert counts["messages"] == []
        assert counts["rounds"] == CI_ROUNDS
        assert counts["violations"] == 0
        # The rounds did real work: most kills land after some acknowledged writes.
        assert counts["acks"] >= CI_ROUNDS // 2

    def test_checker_detects_a_lost_acknowledgement(self, tmp_path: Path) -> None:
        """The invariant checker reports an acknowledged version the registry lacks."""
        out, models = tmp_path / "out", tmp_path / "models"
        server = ForkServer(out, models)
        try:
            result = server.round(1, kill_after=None, failpoint="after_db_commit")
        finally:
            server.close()
        assert result.acks == []
        forged = [Ack("alpha", "9.9.9", "0" * 64)]
        assert check_scan_invariants(out, forged) == ["acknowledged alpha@9.9.9 lost"]


class TestFailpoints:
    @pytest.mark.parametrize("name", FAILPOINTS)
    def test_named_crash_point_keeps_invariants(self, tmp_path: Path, name: str) -> None:
        """A writer killed at each named step of a write leaves every invariant holding."""
        out, models = tmp_path / "out", tmp_path / "models"
        server = ForkServer(out, models)
        acks = []
        try:
            # Round 1 builds some history (killed at a random instant after some writes).
            first = server.round(1, kill_after=0.2)
            acks.extend(first.acks)
            assert check_scan_invariants(out, acks) == []
            # Round 2 dies at the failpoint during its first write.
            second = server.round(2, kill_after=None, failpoint=name)
            assert second.signal == 9, second.problems
            assert second.acks == []
            assert second.problems == []
            assert check_scan_invariants(out, acks) == []
            # A new writer process continues after the crash.
            third = server.round(3, kill_after=0.5)
        finally:
            server.close()
        assert third.problems == []
        assert third.acks
        assert check_scan_invariants(out, acks + third.acks) == []

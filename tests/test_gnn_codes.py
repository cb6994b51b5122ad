"""One small GNN file of our own per finding code, checking the code and its line.

Each case starts from ``tests/data/validate_base.md`` (which has no finding at all), changes
one thing, and names the line the finding must point at by a marker: the *last* line of the
text that contains the marker (``None`` for findings without a line). A meta-test makes sure
every code in :data:`registry.gnn.codes.CODES` has a case here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.cmd_validate import check_path
from registry.gnn import check_bytes
from registry.gnn.codes import CODES
from registry.gnn.model import Finding

BASE = (Path(__file__).resolve().parent / "data" / "validate_base.md").read_text(encoding="utf-8")


def with_section(text: str, name: str, body: str) -> str:
    """``text`` with the body of its first ``## name`` section replaced by ``body``."""
    pattern = re.compile(rf"(^## {re.escape(name)}\n)(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new, count = pattern.subn(lambda m: m.group(1) + body.rstrip("\n") + "\n\n", text, count=1)
    assert count == 1, name
    return new


def without_section(text: str, name: str) -> str:
    """``text`` without its ``## name`` section (heading and body)."""
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new, count = pattern.subn("", text, count=1)
    assert count == 1, name
    return new


def appended(text: str, name: str, extra: str) -> str:
    """``text`` with ``extra`` lines added at the end of the ``## name`` section body."""
    pattern = re.compile(rf"(^## {re.escape(name)}\n.*?)\n*(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new, count = pattern.subn(lambda m: m.group(1).rstrip("\n") + "\n" + extra + "\n\n", text,
                              count=1)
    assert count == 1, name
    return new


def line_of(text: str, marker: str | None) -> int | None:
    """1-based number of the last line of ``text`` containing ``marker``."""
    if marker is None:
        return None
    hits = [no for no, line in enumerate(text.split("\n"), start=1) if marker in line]
    assert hits, marker
    return hits[-1]


Source = Callable[[Path], tuple[tuple[Finding, ...], int | None]]


def text_case(text: str, marker: str | None, *, data: bytes | None = None) -> Source:
    """A case checked with :func:`check_bytes` on ``text`` (or on raw ``data``)."""
    def run(_tmp: Path) -> tuple[tuple[Finding, ...], int | None]:
        raw = data if data is not None else text.encode("utf-8")
        return check_bytes(raw).findings, line_of(text, marker)
    return run


def missing_file_case() -> Source:
    """A case checked through the CLI's reader on a path that does not exist."""
    def run(tmp: Path) -> tuple[tuple[Finding, ...], int | None]:
        return check_path(str(tmp / "absent.md"), strict=False).findings, None
    return run


def variable_limit_case() -> Source:
    """A case checked through the CLI's reader with ``max_variables`` 3: the fourth
    declaration (the comment line in the block does not count) is over the limit."""
    def run(tmp: Path) -> tuple[tuple[Finding, ...], int | None]:
        path = tmp / "many.md"
        path.write_text(BASE, encoding="utf-8")
        return check_path(str(path), strict=False, max_variables=3).findings, line_of(
            BASE, "o[2,1")
    return run


_NUL_TEXT = BASE.replace("Validation Base Model\n", "Validation\x00 Base Model\n", 1)

CASES: dict[str, Source] = {
    "GNN-E001": text_case(without_section(BASE, "Connections"), None),
    "GNN-E002": text_case(
        with_section(BASE, "InitialParameterization",
                     "A={(0.9, 0.1, 0.0), (0.1, 0.9, 0.0)}"), "A={"),
    "GNN-E004": text_case(appended(BASE, "StateSpaceBlock", "A[3,3,type=float]"), "A[3,3"),
    "GNN-E005": text_case(appended(BASE, "Connections", "s o"), "s o"),
    "GNN-W001": text_case(appended(BASE, "StateSpaceBlock", "lonely[2,type=float]"), "lonely["),
    "GNN-W002": text_case(appended(BASE, "Connections", "s>ghost"), "s>ghost"),
    "GNN-W003": text_case(appended(BASE, "InitialParameterization", "ghost={(1.0)}"), "ghost="),
    "GNN-E100": text_case(_NUL_TEXT, "Validation\x00", data=_NUL_TEXT.encode("utf-8")),
    "GNN-E101": text_case("just some prose\nwith no heading\n", None),
    "GNN-E102": text_case(appended(BASE, "StateSpaceBlock", "C [2,type=float]"), "C [2"),
    "GNN-E103": text_case(appended(BASE, "InitialParameterization", "C={(1.0, 2.0)"), "C={"),
    "GNN-E104": text_case(appended(BASE, "StateSpaceBlock", "C[0,type=float]"), "C[0"),
    "GNN-E105": text_case(appended(BASE, "InitialParameterization", "no assignment here"),
                          "no assignment"),
    "GNN-E106": text_case("---\nauthor: me\nthis is not yaml\n---\n" + BASE, "not yaml"),
    "GNN-E107": missing_file_case(),
    "GNN-E108": variable_limit_case(),
    "GNN-W101": text_case(without_section(BASE, "Footer"), None),
    "GNN-W102": text_case(BASE + "\n## Footer\nA second footer.\n", "## Footer"),
    "GNN-W103": text_case(appended(BASE, "ModelParameters", "num_obs: 3"), "num_obs: 3"),
    "GNN-W104": text_case(
        BASE.replace("s[2,1,type=float]", "s[2,1,type=quaternion]"), "s[2,1,"),
    "GNN-W105": text_case(
        BASE.replace("u[1,type=int]", "u[n_moves,type=int]"), "u[n_moves"),
    "GNN-W106": text_case(appended(BASE, "ActInfOntologyAnnotation", "ghost=Observation"),
                          "ghost=Observation"),
    "GNN-W107": text_case(BASE.replace("o=Observation", "o=Banana"), "o=Banana"),
    "GNN-W108": text_case(appended(BASE, "InitialParameterization", "s={(low, high)}"), "s={"),
    "GNN-W109": text_case(appended(BASE, "InitialParameterization", "A={(0.5, 0.5), (0.5, 0.5)}"),
                          "A={(0.5"),
    "GNN-W110": text_case(appended(BASE, "ModelParameters", "just words"), "just words"),
    "GNN-W111": text_case(appended(BASE, "Time", "Sometimes"), "Sometimes"),
}
"""Every finding code, with the small file that triggers it and the expected line."""


class TestEveryCode:
    """Each code is produced by its small file, at the expected line."""

    @pytest.mark.parametrize("code", sorted(CASES))
    def test_code_and_line(self, code: str, tmp_path: Path) -> None:
        """The case file yields a finding with this code at the marked line (or no line)."""
        findings, line = CASES[code](tmp_path)
        hits = [f for f in findings if f.code == code]
        assert hits, f"{code} not reported; got {[(f.code, f.line) for f in findings]}"
        assert line in [f.line for f in hits]

    @pytest.mark.parametrize("code", sorted(CASES))
    def test_severity_matches_code_table(self, code: str, tmp_path: Path) -> None:
        """The finding's severity is the one its code declares (E = error, W = warning)."""
        findings, _line = CASES[code](tmp_path)
        expected = "error" if code.startswith("GNN-E") else "warning"
        assert {f.severity for f in findings if f.code == code} == {expected}

    @pytest.mark.parametrize("code", sorted(CASES))
    def test_message_is_a_sentence(self, code: str, tmp_path: Path) -> None:
        """Every finding carries a non-empty, single-line message."""
        findings, _line = CASES[code](tmp_path)
        for finding in findings:
            assert finding.message.strip()
            assert "\n" not in finding.message


class TestCodeTable:
    """The table of codes and this module's cases stay in step."""

    def test_every_code_has_a_case(self) -> None:
        """Adding a code to CODES without a case here fails."""
        assert {code.code for code in CODES} <= set(CASES)

    def test_no_case_for_an_unknown_code(self) -> None:
        """Every case names a code that exists."""
        assert set(CASES) <= {code.code for code in CODES}

    def test_codes_are_unique_and_well_formed(self) -> None:
        """Codes are distinct, spelled GNN-[EW]NNN, and E/W agree with the severity."""
        names = [code.code for code in CODES]
        assert len(names) == len(set(names))
        for code in CODES:
            assert re.fullmatch(r"GNN-[EW]\d{3}", code.code)
            assert (code.severity == "error") == code.code.startswith("GNN-E")

    def test_base_file_is_clean(self) -> None:
        """The base file every case starts from has no finding at all."""
        assert check_bytes(BASE.encode("utf-8")).findings == ()

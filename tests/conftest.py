"""Shared fixtures: the real corpus beside the checkout, small GNN texts, the examples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.logconfig import reset_logging

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
EXAMPLES = REPO / "examples"
DATA = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-slow`` runs the long reliability runs marked ``slow``."""
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="run tests marked slow (long crash/fuzz/soak runs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless ``--run-slow`` was given."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: use --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Each test starts and ends with structlog's defaults (entry points configure logging)."""
    reset_logging()
    yield
    reset_logging()


@pytest.fixture(scope="session", name="corpus_dir")
def _corpus_dir() -> Path:
    """The shared corpus (``../shared/corpus``); tests that need it skip when it is absent."""
    if not (CORPUS / "gnn_files").is_dir():
        pytest.skip("../shared/corpus is not present on this machine")
    return CORPUS


@pytest.fixture(scope="session", name="gnn_files")
def _gnn_files(corpus_dir: Path) -> Path:
    """``../shared/corpus/gnn_files``."""
    return corpus_dir / "gnn_files"


@pytest.fixture(scope="session", name="examples_dir")
def _examples_dir() -> Path:
    """The bundled ``examples/`` directory of our own GNN files."""
    return EXAMPLES


@pytest.fixture(scope="session", name="data_dir")
def _data_dir() -> Path:
    """``tests/data``: small GNN files written for the tests."""
    return DATA

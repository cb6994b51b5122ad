"""Dump the complete analysis of many files, to check that an optimisation changes nothing.

Usage: ``python bench/dump_analysis.py OUT_FILE [--generated N] [--mutants M] [--corpus DIR]``
or ``python bench/dump_analysis.py --snapshot tests/data/analysis_snapshot.json``

For every input it writes one block: the input's label, then ``repr`` of the parsed file
(:func:`registry.gnn.parse_bytes`) and of :func:`registry.scanning.fileanalysis.analyse` in four
modes
(metadata on and off, strict on and off), which covers the findings (codes, severities,
lines, messages), each model's metadata (structure and signature included), hashes and the
``ok`` verdict. ``repr`` keeps the types (tuple / list, int / float) and the key order.

The inputs are the upstream corpus (``../shared/corpus`` beside the checkout, skipped when
absent), the project's own examples and test data, ``N`` generated files
(:func:`bench.gen_corpus.model_text`, seed 1, default 2,000) and ``M`` damaged variants of
generated files (lines dropped, duplicated, cut or garbled; default 500), so error paths are
covered too. Compare two dumps with ``cmp`` or ``diff``.

``--snapshot FILE`` writes instead, for the inputs that need no corpus (the examples, 400
generated and 200 damaged files), each input's SHA-256 and the SHA-256 of its dump, as JSON.
``tests/test_analysis_snapshot.py`` checks today's analysis against that file: regenerate it
only when a change of findings or metadata is intended.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gen_corpus import model_text  # noqa: E402
from registry.gnn import parse_bytes  # noqa: E402
from registry.scanning.fileanalysis import analyse  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
_GARBAGE = ["{", "}", "(", ")", "[", "]", ",", "=", ">", "-", "#", "\t", "π", "1e9", "x", "\\"]


def generated(count: int, seed: int = 1) -> Iterator[tuple[str, bytes]]:
    """``count`` generated files (the same texts as ``gen_corpus.py`` with this seed)."""
    rng = random.Random(seed)
    for index in range(count):
        yield f"generated/{index}", model_text(index, rng).encode("utf-8")


def _damage(text: str, rng: random.Random) -> str:
    """One random kind of damage to a text."""
    lines = text.split("\n")
    kind = rng.randrange(5)
    at = rng.randrange(len(lines))
    if kind == 0:
        del lines[at]
    elif kind == 1:
        lines.insert(at, lines[rng.randrange(len(lines))])
    elif kind == 2:
        return text[:rng.randrange(len(text))]
    elif kind == 3:
        line = lines[at]
        cut = rng.randrange(len(line) + 1)
        lines[at] = line[:cut] + rng.choice(_GARBAGE) + line[cut:]
    else:
        lines[at] = lines[at].replace(",", "", 1).replace("=", "", 1)
    return "\n".join(lines)


def mutants(count: int, seed: int = 2) -> Iterator[tuple[str, bytes]]:
    """``count`` damaged generated files (1-3 damages each)."""
    rng = random.Random(seed)
    source = random.Random(seed + 1)
    for index in range(count):
        text = model_text(index, source)
        for _ in range(rng.randint(1, 3)):
            text = _damage(text, rng)
        yield f"mutant/{index}", text.encode("utf-8")


def tree(root: Path, label: str) -> Iterator[tuple[str, bytes]]:
    """Every ``*.md`` file under ``root``, sorted."""
    if root.is_dir():
        for path in sorted(root.rglob("*.md")):
            yield f"{label}/{path.relative_to(root)}", path.read_bytes()


def dump_one(data: bytes) -> str:
    """The complete analysis of one file as text."""
    parts = [repr(parse_bytes(data))]
    for metadata in (True, False):
        for strict in (False, True):
            parts.append(repr(analyse(data, strict=strict, metadata=metadata)))
    parts.append(repr(analyse(data, skip_non_gnn=True)))
    return "\n".join(parts)


def inputs(corpus: Path, count: int, damaged: int) -> Iterator[tuple[str, bytes]]:
    """Every input of the dump, in a fixed order."""
    yield from tree(corpus, "corpus")
    yield from tree(ROOT / "examples", "examples")
    yield from tree(ROOT / "tests" / "data", "tests-data")
    yield from generated(count)
    yield from mutants(damaged)


SNAPSHOT_GENERATED = 400
SNAPSHOT_MUTANTS = 200


def snapshot_inputs() -> Iterator[tuple[str, bytes]]:
    """The inputs of the snapshot (no corpus needed)."""
    yield from tree(ROOT / "examples", "examples")
    yield from generated(SNAPSHOT_GENERATED)
    yield from mutants(SNAPSHOT_MUTANTS)


def digest(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def snapshot() -> dict[str, list[str]]:
    """``{label: [SHA-256 of the input, SHA-256 of its dump]}`` for :func:`snapshot_inputs`."""
    return {label: [digest(data), digest(dump_one(data).encode("utf-8"))]
            for label, data in snapshot_inputs()}


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--snapshot", type=Path, help="write the snapshot file instead")
    parser.add_argument("--generated", type=int, default=2000)
    parser.add_argument("--mutants", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if args.snapshot is not None:
        entries = snapshot()
        lines = [f"{json.dumps(label)}: {json.dumps(pair)}" for label, pair in entries.items()]
        args.snapshot.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        print(f"{len(entries)} files in the snapshot {args.snapshot}")
        return
    if args.out is None:
        parser.error("give OUT_FILE or --snapshot FILE")
    count = 0
    with args.out.open("w", encoding="utf-8") as out:
        for label, data in inputs(args.corpus, args.generated, args.mutants):
            out.write(f"=== {label}\n{dump_one(data)}\n")
            count += 1
    print(f"{count} files dumped to {args.out}")


if __name__ == "__main__":
    main()

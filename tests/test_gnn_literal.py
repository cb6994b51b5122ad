"""Tests for registry.gnn.literal: the numeric literal reader and shapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import GnnParseError
from registry.gnn.literal import (
    MAX_DEPTH,
    read_literal,
    read_literal_fast,
    read_literal_slow,
    read_matrix,
    shape_of,
)
from tests import strategies


class TestReadLiteral:
    """The reference meaning: ``{}`` is a list, ``(x)`` is x, ``(x,)`` a 1-tuple."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("{(0.1, 0.2)}", ((0.1, 0.2),)),
            ("{(1.0)}", (1.0,)),
            ("(1.0)", 1.0),
            ("((2.5))", 2.5),
            ("(1.0,)", (1.0,)),
            ("()", ()),
            ("{}", ()),
            ("{1}", (1.0,)),
            ("3", 3.0),
            ("-0.5", -0.5),
            ("{.5, +1, 1., 1e-3, 2E+2}", (0.5, 1.0, 1.0, 0.001, 200.0)),
            ("{(1,2),(3,4),}", ((1.0, 2.0), (3.0, 4.0))),
            ("{\n  (0.9, 0.1),\n\n  (0.1, 0.9)\n}", ((0.9, 0.1), (0.1, 0.9))),
            ("{1, (2)}", (1.0, 2.0)),
            ("{((1.0,0.0),(0.0,1.0)),((0.0,1.0),(1.0,0.0))}",
             (((1.0, 0.0), (0.0, 1.0)), ((0.0, 1.0), (1.0, 0.0)))),
        ],
    )
    def test_values(self, text: str, expected: object) -> None:
        """Each literal reads to the value Python would give after ``{``->``[``."""
        assert read_literal(text) == expected

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ('["a", "b"]', "unexpected text"),
            ("[1, 2}", "closed by"),
            ('{"a": 1}', "unexpected text"),
            ("clustered_mean_field", "unexpected text"),
            ("{1)", "closed by"),
            ("{(1, 2)", "never closed"),
            ("(1, 2))", "unmatched"),
            ("{1,,2}", "empty element"),
            ("{,}", "empty element"),
            ("{1 2}", "missing ','"),
            ("{(1)(2)}", "missing ','"),
            ("", "no value"),
            ("   ", "no value"),
            ("{1} {2}", "missing ','"),
            ("1, 2", "outside any group"),
        ],
    )
    def test_errors(self, text: str, fragment: str) -> None:
        """Text that is not a numeric literal raises GnnParseError with a reason."""
        with pytest.raises(GnnParseError, match=fragment):
            read_literal(text)

    def test_depth_limit(self) -> None:
        """Groups nested deeper than MAX_DEPTH are refused instead of recursing."""
        deep = "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1)
        with pytest.raises(GnnParseError, match="nested deeper"):
            read_literal(deep)
        ok = "{" * MAX_DEPTH + "1" + "}" * MAX_DEPTH
        assert shape_of(read_literal(ok)) == ((1,) * MAX_DEPTH, False)

    def test_not_a_string(self) -> None:
        """A non-string argument is a GnnParseError, not a TypeError."""
        with pytest.raises(GnnParseError):
            read_literal(b"{1}")  # type: ignore[arg-type]

    def test_fast_path_scope(self) -> None:
        """The fast path reads trailing commas and declines what it cannot read."""
        assert read_literal_fast("(1.0,)") == (1.0,)
        assert read_literal_fast("((1.0),)") == (1.0,)
        assert read_literal_fast("{γ}") is None
        assert read_literal_fast("{1,,2}") is None
        assert read_literal_slow("(1.0,)") == (1.0,)


class TestShapeOf:
    """Shapes are nested lengths; unequal siblings are ragged."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (1.0, ((), False)),
            ((), ((0,), False)),
            ((1.0, 2.0), ((2,), False)),
            (((1.0, 2.0),), ((1, 2), False)),
            (((), ()), ((2, 0), False)),
            (((1.0, 2.0), (3.0,)), (None, True)),
            (((1.0, 2.0), 3.0), (None, True)),
            ((((1.0,), (2.0,)), ((1.0,), (2.0, 3.0))), (None, True)),
        ],
    )
    def test_shapes(self, value: object, expected: object) -> None:
        """Each value has the expected (shape, ragged) pair."""
        assert shape_of(value) == expected  # type: ignore[arg-type]

    def test_action_major_tensor(self) -> None:
        """A 2x3x4 literal has shape (2, 3, 4)."""
        text = "{" + ",".join(
            "(" + ",".join("(" + ",".join(["0.5"] * 4) + ")" for _ in range(3)) + ")"
            for _ in range(2)) + "}"
        assert shape_of(read_literal(text)) == ((2, 3, 4), False)


def _reference_shape(value: object) -> tuple[tuple[int, ...] | None, bool]:
    """Recursive definition of the shape, to check the level-wise implementation."""
    if not isinstance(value, tuple):
        return (), False
    if not value:
        return (0,), False
    shapes = [_reference_shape(item) for item in value]
    if any(ragged for _, ragged in shapes) or len({shape for shape, _ in shapes}) != 1:
        return None, True
    first = shapes[0][0]
    assert first is not None
    return (len(value), *first), False


class TestFastSlowAgree:
    """Both readers give the same value whenever the fast path applies."""

    @settings(max_examples=300)
    @given(strategies.literals)
    def test_generated_literals(self, text: str) -> None:
        """On generated literals the fast path (when it applies) equals the slow path."""
        slow = read_literal_slow(text)
        fast = read_literal_fast(text)
        if fast is not None:
            assert fast == slow
        assert read_literal(text) == slow
        assert shape_of(slow) == _reference_shape(slow)

    @settings(max_examples=300)
    @given(st.text(alphabet="0123456789.+-eE,(){} \n", max_size=40))
    def test_arbitrary_literal_characters(self, text: str) -> None:
        """On arbitrary literal characters the fast path never accepts what slow rejects."""
        fast = read_literal_fast(text)
        try:
            slow = read_literal_slow(text)
        except GnnParseError:
            assert fast is None
        else:
            assert fast is None or fast == slow

    @settings(max_examples=100)
    @given(strategies.regular_literals)
    def test_corpus_layout_uses_fast_path(self, text: str) -> None:
        """Matrices in the corpus layout are read by the fast path."""
        fast = read_literal_fast(text)
        assert fast is not None
        assert fast == read_literal_slow(text)


class TestReadMatrix:
    """The whole-literal matrix reader agrees with the general reader, or declines."""

    @staticmethod
    def _agrees(text: str) -> bool:
        """True when read_matrix accepted ``text``; asserts it matches the general reader."""
        fast = read_matrix(text)
        try:
            slow = read_literal_slow(text)
        except GnnParseError:
            assert fast is None
            return False
        if fast is None:
            return False
        value, shape = fast
        assert value == slow
        assert shape_of(slow)[0] == shape
        return True

    @settings(max_examples=400)
    @given(strategies.literals)
    def test_generated_literals(self, text: str) -> None:
        self._agrees(text)

    @settings(max_examples=300)
    @given(st.text(alphabet="0123456789.+-eE,(){} \n", max_size=60))
    def test_arbitrary_literal_characters(self, text: str) -> None:
        self._agrees(text)

    @settings(max_examples=200)
    @given(strategies.regular_literals)
    def test_two_dimensional_layout_is_taken(self, text: str) -> None:
        """``{(r), (r)}`` with rows of two or more numbers takes the fast path."""
        assert self._agrees(text)

    @pytest.mark.parametrize("text", [
        "{((0.5, 0.5), (0.1, 0.9)), ((0.2, 0.8), (0.3, 0.7))}",
        "{\n  ((1, 0), (0, 1)),\n  ((0, 1), (1, 0))\n}",
    ])
    def test_three_dimensional_layout_is_taken(self, text: str) -> None:
        assert self._agrees(text)
        assert read_matrix(text) is not None
        assert read_matrix(text)[1] == (2, 2, 2)  # type: ignore[index]

    @pytest.mark.parametrize("text", [
        "{(0.5, 0.5), (0.1)}", "{(0.5,), (0.1,)}", "{(1, 2),}", "{(1)}", "(1, 2)",
        "{(1, 2), ((3, 4), (5, 6))}", "{(1, 2) (3, 4)}", "{(π, 1)}",
    ])
    def test_other_layouts_are_declined(self, text: str) -> None:
        assert read_matrix(text) is None

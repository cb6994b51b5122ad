"""Read GNN parameter literals (``{(0.9, 0.1), (0.1, 0.9)}``) into nested tuples of floats.

The reference implementation turns ``{`` into ``[`` and ``}`` into ``]`` and evaluates the
result as a Python literal. This module reproduces that meaning without ``eval``:

- a number (``1``, ``-0.5``, ``+2.``, ``.5``, ``1e-3``) is read as a float;
- ``{...}`` is always a sequence (a Python list), even with one element: ``{(1.0)}`` is
  ``(1.0,)`` with shape ``(1,)``; ``{}`` is the empty sequence. ``[...]`` means the same as
  ``{...}`` (it is what the reference turns ``{`` into, and several upstream templates write
  ``A = [[0.9, 0.1], [0.1, 0.9]]``);
- ``(...)`` with exactly one element and no trailing comma is that element (``(x)`` is ``x``),
  ``(x,)`` is a one-element sequence and ``()`` the empty sequence;
- groups are separated by commas, one trailing comma is allowed, whitespace and newlines are
  irrelevant, and a ``{`` must be closed by ``}``, a ``[`` by ``]`` and a ``(`` by ``)``.

Two readers implement this grammar. The fast path handles the common, large literals with
C-speed number conversion: it checks the character set (ASCII digits,
``. + - e E , ( ) { } [ ]`` and blanks), splits the text at brackets (``bytes.translate``
then ``str.split``), converts each run of comma-separated numbers with ``map(float, ...)``
and builds the groups in one pass over the brackets, checking commas and bracket kinds as
it goes. It gives up (returns ``None``) on anything unusual. The slow path is an iterative
tokenizer-driven reader that accepts the whole grammar and explains errors.
:func:`read_literal` tries the fast path and falls back to the slow one; both give identical
values (a property test compares them).
Neither uses ``eval``.

:func:`read_matrix` is quicker still for the two layouts nearly every parameter uses
(``{(r), (r)}`` and ``{((r), (r)), ((r), (r))}`` with rows of one length): it checks the
layout as a whole and gives the value and its shape; the parameter reader tries it first.
"""

from __future__ import annotations

import re
from itertools import chain

from registry.errors import GnnParseError
from registry.gnn.model import NestedValue

_NOT_BRACKETS = b"0123456789.+-eE, \t\n\r"
_BRACKETS_TO_NUL = bytes.maketrans(b"{}()[]", b"\x00" * 6)
_TOKEN = re.compile(
    r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))"
    r"|(?P<punct>[{}()\[\],]))"
)
_SPACE = re.compile(r"\s*")
_LITERAL_CHARS = b"0123456789.+-eE, \t\n\r{}()"
_ROW = re.compile(rb"\([^(){}]*\)")
_ROWS_BY_WIDTH: dict[int, re.Pattern[bytes]] = {}
_CLOSER = {"{": "}", "(": ")", "[": "]"}
_NO_NUMBERS: tuple[list[float], bool] = ([], False)
MAX_DEPTH = 64
"""Deepest nesting of groups a literal may have (real literals use at most 3 or 4)."""


def _numbers(
    content: str, after_value: bool, before_group: bool
) -> tuple[list[float], bool] | None:
    """The numbers in the text between two brackets, or ``None`` when the fast path gives up.

    Args:
        content: the text between two brackets.
        after_value: the bracket before ``content`` closed a group (so a ``,`` must follow).
        before_group: the bracket after ``content`` opens a group (so a ``,`` must precede).

    Returns:
        The numbers, in order (possibly none), and whether ``content`` ends with a trailing
        comma before a closing bracket; or ``None``.
    """
    if after_value and before_group:
        # Between two groups ("), ("): exactly one comma, the commonest case by far.
        return _NO_NUMBERS if content.strip() == "," else None
    pieces = content.split(",")
    if len(pieces) == 1:
        if not content.strip():
            # "((", "))" and "()" are fine; ")(" lacks a comma.
            return None if after_value and before_group else ([], False)
        if after_value or before_group:
            return None
        try:
            return [float(content)], False
        except ValueError:
            return None
    if after_value and pieces[0].strip():
        return None
    if not after_value and not before_group and pieces[-1].strip():
        # A plain run of numbers ("0.1, 0.9"), the other common case.
        try:
            return list(map(float, pieces)), False
        except ValueError:
            return None
    trailing = False
    if before_group:
        if pieces[-1].strip():
            return None
        pieces.pop()
    elif not pieces[-1].strip():
        trailing = True
        pieces.pop()
    if after_value:
        del pieces[0]
    try:
        # float() rejects blank pieces, so empty elements ("1,,2") give up here.
        return list(map(float, pieces)), trailing
    except ValueError:
        return None


def read_literal_fast(text: str) -> NestedValue | None:
    """Read ``text`` with the fast path (C-speed number conversion, one pass over brackets).

    Args:
        text: the literal text.

    Returns:
        The value, or ``None`` when the fast path does not apply (characters outside
        ``0-9 . + - e E , ( ) { } [ ]`` and ASCII blanks, or any malformed
        text). ``None`` does not mean the literal is invalid: :func:`read_literal_slow`
        decides that.
    """
    if not text.isascii():
        return None
    raw = text.encode("ascii")
    # The brackets in order (plus any character the fast path does not take), and the texts
    # before, between and after them: C-speed passes over the text.
    brackets = raw.translate(None, _NOT_BRACKETS).decode("ascii")
    if brackets.strip("{}()[]"):
        return None
    if not brackets:
        if "," in text:
            return None
        number = _numbers(text, after_value=False, before_group=False)
        return number[0][0] if number and number[0] else None
    contents = raw.translate(_BRACKETS_TO_NUL).decode("ascii").split("\x00")
    if contents[0].strip() or contents[-1].strip():
        return None
    stack: list[tuple[str, list[NestedValue]]] = []
    result: NestedValue | None = None
    previous = ""
    trailing = False
    skip = False
    for index, bracket in enumerate(brackets):
        if skip:  # the closing bracket of a row read whole below
            skip = False
            continue
        if previous:
            if not stack:
                return None
            if previous in ")}]" and bracket in "{([":
                # Between two groups: exactly one comma (inlined: the commonest case).
                if contents[index].strip() != ",":
                    return None
                trailing = False
            else:
                found = _numbers(contents[index], previous in ")}]", bracket in "{([")
                if found is None:
                    return None
                stack[-1][1].extend(found[0])
                trailing = found[1]
        if bracket in "{([":
            if result is not None or len(stack) >= MAX_DEPTH:
                return None
            if brackets[index + 1:index + 2] == _CLOSER[bracket]:
                # A row "(0.1, 0.9)" or "[0.1, 0.9]": two or more numbers, no trailing
                # comma, read at once (what the general steps below give, without a frame).
                pieces = contents[index + 1].split(",")
                if len(pieces) > 1 and pieces[-1].strip():
                    try:
                        row = tuple(map(float, pieces))
                    except ValueError:
                        return None
                    if stack:
                        stack[-1][1].append(row)
                    else:
                        result = row
                    trailing = False
                    previous = _CLOSER[bracket]
                    skip = True
                    continue
            stack.append((bracket, []))
            trailing = False
        else:
            if not stack:
                return None
            opener, items = stack.pop()
            if _CLOSER[opener] != bracket:
                return None
            unwrap = opener == "(" and len(items) == 1 and not trailing
            group = items[0] if unwrap else tuple(items)
            if stack:
                stack[-1][1].append(group)
            else:
                result = group
            trailing = False
        previous = bracket
    return None if stack else result


def _row_pattern(width: int) -> re.Pattern[bytes]:
    """A row ``(x, ..., x)`` of exactly ``width`` elements (bytes; compiled once per width)."""
    pattern = _ROWS_BY_WIDTH.get(width)
    if pattern is None:
        pattern = re.compile(rb"\([^(){},]*" + rb",[^(){},]*" * (width - 1) + rb"\)")
        if len(_ROWS_BY_WIDTH) < 256:
            _ROWS_BY_WIDTH[width] = pattern
    return pattern


def read_matrix(text: str) -> tuple[NestedValue, tuple[int, ...]] | None:
    """Read the two commonest layouts at C speed: ``{(r), (r), ...}`` and
    ``{((r), (r), ...), ((r), (r), ...), ...}`` with rows ``(r)`` of one length (at least 2).

    Every row of the first row's length is replaced by ``R``; with blanks removed, the text
    must then be exactly ``{R,R,...}`` or ``{(R,R,...),(R,R,...),...}`` (blocks of one size,
    at least 2). The numbers are then the text without its brackets split at commas (one
    ``map(float, ...)``), regrouped with ``zip``. Anything else (a ragged or one-element row,
    a trailing comma, another layout) gives ``None``: :func:`read_literal` decides.

    Args:
        text: the literal text.

    Returns:
        ``(value, shape)``, the same value :func:`read_literal` gives and its shape as
        :func:`shape_of` measures it; or ``None``.
    """
    if not text.isascii():
        return None
    raw = text.encode("ascii")
    if raw.translate(None, _LITERAL_CHARS):
        return None
    first = _ROW.search(raw)
    if first is None:
        return None
    width = first.group().count(b",") + 1
    if width < 2:
        return None
    skeleton = _row_pattern(width).sub(b"R", raw).translate(None, b" \t\n\r")
    count = skeleton.count(b"R")
    per_block = 0
    if skeleton != b"{" + b",".join([b"R"] * count) + b"}":
        per_block = (skeleton.find(b")") - 1) // 2
        if (per_block < 2 or count % per_block or skeleton != b"{" + b",".join(
                [b"(" + b",".join([b"R"] * per_block) + b")"] * (count // per_block)) + b"}"):
            return None
    try:
        # (float() reads str faster than bytes)
        numbers = list(map(float, raw.translate(None, b"{}()").decode("ascii").split(",")))
    except ValueError:  # an empty element or a malformed number
        return None
    matrix = list(zip(*[iter(numbers)] * width, strict=True))
    if not per_block:
        return tuple(matrix), (count, width)
    blocks = tuple(zip(*[iter(matrix)] * per_block, strict=True))
    return blocks, (count // per_block, per_block, width)


def read_literal_slow(text: str) -> NestedValue:
    """Read ``text`` with the general (tokenizer-driven, iterative) reader.

    Args:
        text: the literal text.

    Returns:
        The value as a float or nested tuples of floats.

    Raises:
        GnnParseError: the text is not a numeric literal; the message says what is wrong.
    """
    pos = 0
    end = len(text)
    # One frame per open group: its opening character and the elements read so far.
    stack: list[tuple[str, list[NestedValue]]] = []
    expect_value = True
    last_was_comma = False
    result: NestedValue | None = None
    while True:
        match = _TOKEN.match(text, pos)
        if match is None:
            rest = _SPACE.match(text, pos)
            pos = rest.end() if rest is not None else pos
            if pos >= end:
                break
            raise GnnParseError(f"unexpected text {text[pos:pos + 20]!r} in a numeric literal")
        pos = match.end()
        num = match.group("num")
        if num is not None:
            if not expect_value:
                raise GnnParseError(f"missing ',' before {num!r} in a numeric literal")
            value: NestedValue = float(num)
            if not stack:
                if result is not None:
                    raise GnnParseError("more than one value outside any group")
                result = value
                expect_value = False
                continue
            stack[-1][1].append(value)
            expect_value = False
            last_was_comma = False
            continue
        punct = match.group("punct")
        if punct in "{([":
            if not expect_value or (not stack and result is not None):
                raise GnnParseError(f"missing ',' before {punct!r} in a numeric literal")
            stack.append((punct, []))
            if len(stack) > MAX_DEPTH:
                raise GnnParseError(f"groups nested deeper than {MAX_DEPTH} levels")
            expect_value = True
            last_was_comma = False
        elif punct == ",":
            if not stack:
                raise GnnParseError("a ',' outside any group")
            if expect_value:
                raise GnnParseError("an empty element (two ',' in a row or ',' after an opening)")
            expect_value = True
            last_was_comma = True
        else:
            if not stack:
                raise GnnParseError(f"unmatched closing {punct!r}")
            opener, items = stack.pop()
            if _CLOSER[opener] != punct:
                raise GnnParseError(f"{opener!r} closed by {punct!r}")
            if expect_value and items and not last_was_comma:
                raise GnnParseError("an element is missing before a closing bracket")
            group: NestedValue
            if opener == "(" and len(items) == 1 and not last_was_comma:
                group = items[0]
            else:
                group = tuple(items)
            expect_value = False
            last_was_comma = False
            if stack:
                stack[-1][1].append(group)
            else:
                result = group
    if stack:
        raise GnnParseError(f"{len(stack)} group(s) never closed")
    if result is None:
        raise GnnParseError("no value")
    return result


def read_literal(text: str) -> NestedValue:
    """Read a GNN numeric literal.

    Args:
        text: the value text of a parameter (``{(0.5, 0.5)}``, ``(1.0)``, ``3``).

    Returns:
        A float, or nested tuples of floats (see the module docstring for the grammar).

    Raises:
        GnnParseError: the text is not a numeric literal (words, ``[...]`` lists,
            JSON-like objects, unbalanced or mismatched brackets).
    """
    if not isinstance(text, str):
        raise GnnParseError(f"a literal must be text, not {type(text).__name__}")
    fast = read_literal_fast(text)
    if fast is not None:
        return fast
    return read_literal_slow(text)


def shape_of(value: NestedValue) -> tuple[tuple[int, ...] | None, bool]:
    """The nested lengths of a literal value.

    Args:
        value: a float or nested tuples of floats (as :func:`read_literal` returns).

    Returns:
        ``(shape, ragged)``: ``shape`` is ``()`` for a number and ``(len, *child shape)`` for
        a sequence whose elements all have one shape; when siblings differ (in length, or a
        number next to a group) the value is ragged and the result is ``(None, True)``.
    """
    # Level by level: a value is regular exactly when, at every depth, all nodes are numbers
    # or all are sequences of one common length. Each level is checked at C speed.
    shape: list[int] = []
    level: list[NestedValue] = [value]
    kinds = set(map(type, level))
    while level:
        if kinds == {float}:
            break
        if kinds != {tuple}:
            return None, True
        lengths = set(map(len, level))  # type: ignore[arg-type]
        if len(lengths) != 1:
            return None, True
        shape.append(lengths.pop())
        # The next level's kinds first: a level of numbers is never built as a list.
        kinds = set(map(type, chain.from_iterable(level)))  # type: ignore[arg-type]
        if kinds == {float}:
            break
        level = list(chain.from_iterable(level))  # type: ignore[arg-type]
    return tuple(shape), False


__all__ = [
    "MAX_DEPTH",
    "read_literal",
    "read_literal_fast",
    "read_literal_slow",
    "read_matrix",
    "shape_of",
]

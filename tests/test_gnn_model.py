"""The parser's fast constructors give exactly the objects the dataclass calls give."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from registry.gnn import model as m

CASES: list[tuple[Any, type, tuple[Any, ...]]] = [
    (m.new_section, m.Section, ("StateSpaceBlock", 4, ("A[2,2]", "# note"))),
    (m.new_variable, m.Variable, ("A", (2, "N"), "float", 5, None, "likelihood")),
    (m.new_connection, m.Connection, ("s", "o", True, 9, ">", None)),
    (m.new_parameter, m.Parameter, ("A", "{(1,0)}", ((1, 0),), (1, 2), 12, 13, False)),
    (m.new_time_item, m.TimeItem, ("ModelTimeHorizon", "10", 20)),
    (m.new_annotation, m.Annotation, ("A", "LikelihoodMatrix", 22)),
    (m.new_model_parameter, m.ModelParameter, ("num_states", "3", 24)),
]


@pytest.mark.parametrize(("build", "cls", "args"), CASES,
                         ids=[cls.__name__ for _b, cls, _a in CASES])
def test_fast_constructor_equals_the_class_call(build, cls, args):
    fast, plain = build(*args), cls(*args)
    assert type(fast) is cls
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert [getattr(fast, f.name) for f in dataclasses.fields(cls)] == list(args)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.line = 0

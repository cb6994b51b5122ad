"""Declared dimensions versus literal shapes: symbolic sizes and the accepted equivalences.

Two questions are answered here, both without touching a literal's elements (the parser
has already measured each literal's shape once):

1. **What numeric shape does a declaration mean?** Numeric dimensions are taken as written.
   A symbolic dimension resolves, in this order, to

   - the *first* dimension of the declared variable of that name (``F[π]`` with ``π[3]``
     means ``F[3]``), followed recursively if that dimension is itself symbolic;
   - the integer value of the ``## ModelParameters`` key of that name (``A[num_obs,3]``
     with ``num_obs: 3``); when a key is repeated the last value wins.

   A dimension that resolves to nothing leaves the declaration unresolved: its shape is not
   checked (and the validator warns with GNN-W105).

2. **Does a literal of shape L fit a declaration of shape D?** They fit when, after
   dropping every axis of length 1 from both, they are equal, or when D has three axes and L
   is D's action-major form ``[d2,d0,d1]`` (one ``d0 x d1`` slice per action), again up to
   axes of length 1. An axis of length 1 holds no data and moves none: the numbers and their
   order are the same with or without it. This one rule contains every idiom of the
   reference, in both directions:

   - ``[n]`` written as one row ``[1,n]`` (``C={(0.1, 0.1, 1.0)}``), and ``[1,n]`` as ``[n]``;
   - ``[n,1]`` written ``[n]`` or ``[1,n]``, and the reverse;
   - ``[r,c]`` written ``[1,r,c]`` or ``[r,c,1]``, and ``[r,c,1]`` written ``[r,c]``
     (``B_f1`` in ``structured/factorized_posterior.md``, ``B_ctx`` in
     ``tmaze_epistemic.md``);
   - a bare scalar for a declaration whose dimensions are all 1, and ``[1]`` for a scalar.

   The action-major permutation is the one rule that is not symmetric: it says how a
   declared 3-D tensor may be laid out (the last, action, axis first). Its reverse would let
   a literal contradict the declared axis order, so a declaration ``[2,3,3]`` does not accept
   a ``3x3x2`` literal.

``len(NAME)`` is a symbolic dimension too: it means the same as ``NAME``. Any other
expression (``2*n``) is never evaluated; the declaration is left unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from registry.gnn.lines import is_name
from registry.gnn.model import Dimension, ModelParameter, Variable

Shape = tuple[int, ...]
"""A numeric shape: the nested lengths of a literal or a resolved declaration."""


def _positive_int(text: str) -> int | None:
    """The value of a ModelParameters entry when it is a plain positive integer."""
    word = text.strip()
    if word.startswith("+"):
        word = word[1:]
    if not word.isdecimal() or not word.isascii():
        return None
    value = int(word)
    return value if value > 0 else None


@dataclass(frozen=True, slots=True)
class DimensionResolver:
    """Resolves symbolic dimensions of one model (see the module docstring for the rule).

    Attributes:
        variables: each declared name mapped to its *first* declaration's dimensions.
        parameters: each ``## ModelParameters`` key mapped to its last value text.
    """

    variables: Mapping[str, tuple[Dimension, ...]]
    parameters: Mapping[str, str]
    _cache: dict[str, int | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def for_model(cls, variables: Iterable[Variable],
                  model_parameters: Iterable[ModelParameter]) -> DimensionResolver:
        """Build the resolver from a model's declarations and ModelParameters.

        Args:
            variables: the StateSpaceBlock declarations (first declaration of a name wins).
            model_parameters: the ModelParameters entries (last value of a key wins).

        Returns:
            A resolver for that model.
        """
        dims: dict[str, tuple[Dimension, ...]] = {}
        for var in variables:
            dims.setdefault(var.name, var.dims)
        params = {entry.key: entry.value for entry in model_parameters}
        return cls(dims, params)

    def knows(self, symbol: str) -> bool:
        """Whether ``symbol`` names a declared variable or a ModelParameters key.

        Args:
            symbol: a symbolic dimension.

        Returns:
            True when something of that name exists in the model.
        """
        return symbol in self.variables or symbol in self.parameters

    def size_of(self, symbol: str) -> int | None:
        """The numeric size a symbolic dimension stands for, or ``None``.

        Args:
            symbol: a symbolic dimension such as ``π`` or ``num_obs``.

        Returns:
            The resolved positive size, or ``None`` when it resolves to nothing numeric.
        """
        if symbol in self._cache:
            return self._cache[symbol]
        if symbol.startswith("len(") and symbol.endswith(")"):
            inner = symbol[4:-1]
            size_of_inner = self.size_of(inner) if is_name(inner) else None
            self._cache[symbol] = size_of_inner
            return size_of_inner
        # Mark as in progress first, so a cycle (a[b], b[a]) resolves to None, not recursion.
        self._cache[symbol] = None
        size: int | None = None
        dims = self.variables.get(symbol)
        if dims:
            first = dims[0]
            size = first if isinstance(first, int) else self.size_of(first)
        if size is None and symbol in self.parameters:
            size = _positive_int(self.parameters[symbol])
        self._cache[symbol] = size
        return size

    def resolve(self, dims: Iterable[Dimension]) -> Shape | None:
        """The numeric shape of a declaration, or ``None`` if any dimension is unresolved.

        Args:
            dims: the declared dimensions.

        Returns:
            The resolved shape, or ``None``.
        """
        out: list[int] = []
        for dim in dims:
            size = dim if isinstance(dim, int) else self.size_of(dim)
            if size is None:
                return None
            out.append(size)
        return tuple(out)


def squeeze(shape: Shape) -> Shape:
    """``shape`` without its axes of length 1 (``[1,3,1]`` -> ``[3]``, ``[1,1]`` -> ``[]``)."""
    return tuple(size for size in shape if size != 1)


@lru_cache(maxsize=1024)
def accepted_shapes(declared: Shape) -> tuple[Shape, ...]:
    """The accepted literal shapes of a declaration, each up to axes of length 1: the
    declared shape first, then (for three axes) its action-major form (cached: a corpus has
    few distinct declared shapes).

    Args:
        declared: the resolved declared shape.

    Returns:
        The distinct forms, in a stable order; a literal fits when, without its axes of
        length 1, it equals one of them without its axes of length 1.
    """
    forms: list[Shape] = [declared]
    if len(declared) == 3:
        action_major = (declared[2], declared[0], declared[1])
        if squeeze(action_major) != squeeze(declared):
            forms.append(action_major)
    return tuple(forms)


def shape_matches(declared: Shape, literal: Shape) -> bool:
    """Whether a literal of shape ``literal`` fits the declaration ``declared``.

    Args:
        declared: the resolved declared shape.
        literal: the literal's measured shape.

    Returns:
        True when the shapes are equal or related by an accepted equivalence.
    """
    if literal == declared:
        return True
    core = squeeze(literal)
    return any(core == squeeze(form) for form in accepted_shapes(declared))


def format_dims(dims: Iterable[Dimension]) -> str:
    """Render dimensions as written in a declaration: ``[3,3]``, ``[π]``."""
    return "[" + ",".join(str(dim) for dim in dims) + "]"


def format_shape(shape: Shape) -> str:
    """Render a literal's shape for a message: ``3x3``, ``1x4``, ``a scalar``."""
    if not shape:
        return "a scalar"
    return "x".join(str(size) for size in shape)


__all__ = [
    "DimensionResolver",
    "Shape",
    "accepted_shapes",
    "format_dims",
    "format_shape",
    "shape_matches",
    "squeeze",
]

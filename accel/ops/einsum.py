"""einsum (tf.einsum / numpy.einsum): NumPy's grammar, `...` and repeated indices included, with
a gradient to every operand.

The equation is first made explicit (`normalize`): `...` becomes letters the equation does not
use (right-aligned per operand, as NumPy broadcasts them), and an implicit output ("ij,jk") the
broadcast letters followed by the letters used once, alphabetically (NumPy's rule). The forward
is the array module's einsum with its contraction-order optimizer (NumPy's einsum_path: the
cheapest pairwise order, pairs handed to BLAS through tensordot; CuPy's likewise on a GPU).

The VJP for operand i with subscripts s is an einsum of the output gradient with the other
operands onto s's letters, then:
- letters of s that nothing else has (summed only in s), or that s has with size 1 while the
  others broadcast it, are summed in that einsum and broadcast back to s's size;
- a letter repeated in s ("ii->i", a diagonal) gets its gradient on the diagonal only: the
  einsum onto the letter once, times an identity matrix per repetition.
Every step is an accel op (einsum, reshape, broadcast_to), so gradients of every order exist.
"""

from __future__ import annotations

import string

from ..autodiff.complex_grads import holomorphic
from ..dtypes import is_differentiable
from ._core import defop, make, same_device, tensor_arg

_LETTERS = string.ascii_letters
_OPTIMIZE = ("greedy", "optimal", True, False)


def normalize(equation: str, shapes) -> str:
    """The explicit equation ("ab,bc->ac" form, no `...`) of `equation` for operands of
    `shapes`; ValueError naming what is wrong."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string, got {equation!r}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {equation!r} has {len(terms)} operand(s), got {len(shapes)} tensor(s)")
    for term in terms + ([rhs] if arrow else []):
        rest = term.replace("...", "", 1)
        if "." in rest or any(c not in _LETTERS for c in rest):
            raise ValueError(f"einsum: {equation!r}: subscripts are letters and at most one '...' per operand, got "
                             f"{term!r}")
    used = set(c for c in eq if c in _LETTERS)
    spare = [c for c in _LETTERS if c not in used]
    ranks = []
    for term, shape in zip(terms, shapes):
        explicit = len(term.replace("...", ""))
        if "..." in term:
            if len(shape) < explicit:
                raise ValueError(f"einsum: operand {term!r} has {explicit} subscripts besides '...' but rank "
                                 f"{len(shape)}")
            ranks.append(len(shape) - explicit)
        else:
            if len(shape) != explicit:
                raise ValueError(f"einsum: operand {term!r} names {explicit} axes but has rank {len(shape)} (shape "
                                 f"{tuple(shape)})")
            ranks.append(0)
    width = max(ranks, default=0)
    broadcast = "".join(spare[:width])
    terms = [t.replace("...", broadcast[width - k:]) for t, k in zip(terms, ranks)]
    if arrow:
        if "..." in rhs:
            rhs = rhs.replace("...", broadcast)
        elif width and any(ranks):
            raise ValueError(f"einsum: {equation!r}: the output must have '...' when the operands have it")
    else:
        counts = {}
        for c in "".join(terms):
            counts[c] = counts.get(c, 0) + 1
        rhs = broadcast + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in broadcast))
    if len(set(rhs)) != len(rhs):
        raise ValueError(f"einsum: {equation!r}: the output repeats a subscript")
    missing = [c for c in rhs if c not in "".join(terms)]
    if missing:
        raise ValueError(f"einsum: {equation!r}: output subscript {missing[0]!r} is in no operand")
    sizes = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ValueError(f"einsum: {equation!r}: subscript {c!r} has sizes {sizes[c]} and {n} (shapes "
                                 f"{[tuple(s) for s in shapes]})")
            if n != 1 or c not in sizes:
                sizes[c] = n
    return ",".join(terms) + "->" + rhs


def _einsum_array(xp, equation, *arrays, optimize="greedy"):
    """einsum of raw arrays (accel.function's replay); equation explicit or not."""
    explicit = normalize(equation, [a.shape for a in arrays])
    return xp.asarray(xp.einsum(explicit, *arrays, optimize=optimize if len(arrays) > 1 else False))


def _sizes(terms, operands) -> dict:
    sizes = {}
    for term, x in zip(terms, operands):
        for c, n in zip(term, x.shape):
            if n != 1 or c not in sizes:
                sizes[c] = n
    return sizes


def _make_vjp(i):
    def vjp(g, ans, *operands, equation, optimize):
        from .creation import eye
        from .shape import broadcast_to, reshape

        lhs, rhs = equation.split("->")
        terms = lhs.split(",")
        s, x = terms[i], operands[i]
        sizes = _sizes(terms, operands)
        others = [t for j, t in enumerate(terms) if j != i]
        available = set(rhs).union(*others) if others else set(rhs)
        unique = list(dict.fromkeys(s))
        own = {c: x.shape[s.index(c)] for c in unique}
        keep = [c for c in unique if c in available and own[c] == sizes[c]]
        operands_for = [g, *(o for j, o in enumerate(operands) if j != i)]
        part = einsum(",".join([rhs, *others]) + "->" + "".join(keep), *operands_for, optimize=optimize)
        # letters summed in s alone or broadcast from size 1 in s, and letters whose other holders
        # have size 1 while s has more: back to s's sizes
        if len(keep) < len(unique):
            part = reshape(part, [part.shape[keep.index(c)] if c in keep else 1 for c in unique])
        if tuple(part.shape) != tuple(own[c] for c in unique):
            part = broadcast_to(part, [own[c] for c in unique])
        if len(s) == len(unique):
            return part if s == "".join(unique) else einsum("".join(unique) + "->" + s, part)
        # repeated subscripts: the gradient lies on the diagonal
        spare = iter(c for c in _LETTERS if c not in equation)
        out, eyes, seen = [], [], set()
        for c in s:
            if c in seen:
                fresh = next(spare)
                out.append(fresh)
                eyes.append(c + fresh)
            else:
                seen.add(c)
                out.append(c)
        matrices = [eye(own[pair[0]], dtype=g.dtype, device=g.device) for pair in eyes]
        return einsum(",".join(["".join(unique), *eyes]) + "->" + "".join(out), part, *matrices)

    return vjp


_VJPS: dict = {}


def _vjps(count: int) -> tuple:
    out = _VJPS.get(count)
    if out is None:
        out = _VJPS[count] = tuple(holomorphic(_make_vjp(i)) for i in range(count))  # multilinear
    return out


@defop("linalg", kernel=_einsum_array, numpy="einsum")
def einsum(equation, *operands, optimize="greedy"):
    """Sums of products over the subscripts of `equation` (tf.einsum / numpy.einsum): "ij,jk->ik"
    is a matrix product, "bij,bjk->bik" a batched one, "ii->i" a diagonal, "...ij->...ji" a
    transpose of the last two axes, "ij" without "->" the implicit output. optimize: the
    contraction order ("greedy", "optimal"; False: left to right)."""
    if optimize not in _OPTIMIZE:
        raise ValueError(f"einsum: optimize must be one of {_OPTIMIZE}, got {optimize!r}")
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    tensors = [tensor_arg(x, f"operands[{i}]") for i, x in enumerate(operands)]
    device = same_device("einsum", tensors)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: operands must have one dtype, got {sorted(d.name for d in dtypes)}")
    if tensors[0].dtype.kind == "b":
        raise TypeError("einsum: operands must be numbers, got bool")
    explicit = normalize(equation, [t.shape for t in tensors])
    out = _einsum_array(device.xp, explicit, *(t._data for t in tensors), optimize=optimize)
    vjps = _vjps(len(tensors)) if is_differentiable(tensors[0].dtype) else None
    return make(out, device, tuple(tensors), vjps, {"equation": explicit, "optimize": optimize})

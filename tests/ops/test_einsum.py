"""einsum: NumPy's values for its whole grammar (explicit and implicit outputs, `...`, repeated
indices, broadcasting, several operands), the contraction order, and errors."""

import numpy
import pytest

import accel as ac
from accel.ops.einsum import normalize

R = numpy.random.default_rng(12)

CASES = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
         ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 2)]), ("...ij->...ji", [(2, 3, 4)]),
         ("...i,...i->...", [(2, 1, 3), (4, 3)]), ("ij,ij->", [(2, 3), (1, 3)]), ("i,j->ij", [(3,), (4,)]),
         ("ji", [(2, 3)]), ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]), ("btd,dnh->btnh", [(2, 3, 4), (4, 2, 3)]),
         ("btnh,nhd->btd", [(2, 3, 2, 3), (2, 3, 4)]), ("ijk->", [(2, 3, 2)]), ("i,i", [(4,), (4,)])]


@pytest.mark.parametrize("equation,shapes", CASES, ids=[c[0] for c in CASES])
def test_values_equal_numpy(equation, shapes):
    arrays = [R.normal(size=s) for s in shapes]
    out = ac.einsum(equation, *[ac.tensor(a) for a in arrays])
    want = numpy.einsum(equation, *arrays)
    assert out.shape == want.shape
    numpy.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-13)


def test_normalize_makes_the_equation_explicit():
    assert normalize("ij,jk", [(2, 3), (3, 4)]) == "ij,jk->ik"
    assert normalize("...ij->...ji", [(5, 2, 3, 4)]) == "abij->abji"  # letters the equation does not use
    assert normalize("ba", [(2, 3)]) == "ba->ab"


def test_optimize_orders_give_the_same_values_and_integers_work():
    a, b, c = R.normal(size=(5, 40)), R.normal(size=(40, 3)), R.normal(size=(3, 50))
    values = [ac.einsum("ab,bc,cd->ad", a, b, c, optimize=o).numpy() for o in ("greedy", "optimal", False)]
    for v in values[1:]:
        numpy.testing.assert_allclose(v, values[0], rtol=1e-12, atol=1e-12)  # R depends on the test order: an entry may be ~0
    ints = ac.einsum("ij,j->i", ac.tensor([[1, 2], [3, 4]]), ac.tensor([1, 1]))
    assert ints.dtype == numpy.int64 and ints.numpy().tolist() == [3, 7]


def test_gradient_of_a_diagonal_lies_on_the_diagonal():
    x = ac.tensor(R.normal(size=(3, 3)))
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(ac.einsum("ii->i", x) * ac.tensor([1.0, 2.0, 3.0], dtype="float64"))
    numpy.testing.assert_array_equal(tape.gradient(y, x).numpy(), numpy.diag([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("call,match", [
    (lambda: ac.einsum("ij,jk->ik", ac.ones((2, 3))), r"has 2 operand\(s\), got 1 tensor"),
    (lambda: ac.einsum("ij,jk->ik", ac.ones((2, 3)), ac.ones((4, 5))), "subscript 'j' has sizes 3 and 4"),
    (lambda: ac.einsum("ijk", ac.ones((2, 3))), "names 3 axes but has rank 2"),
    (lambda: ac.einsum("ij->ii", ac.ones((2, 2))), "the output repeats a subscript"),
    (lambda: ac.einsum("ij->k", ac.ones((2, 2))), "output subscript 'k' is in no operand"),
    (lambda: ac.einsum("i1", ac.ones((2, 2))), "subscripts are letters"),
    (lambda: ac.einsum("...i->i", ac.ones((2, 2))), "the output must have '...'"),
    (lambda: ac.einsum("i,i", ac.ones(2), ac.ones(2, dtype="float64")), "operands must have one dtype"),
    (lambda: ac.einsum("i", ac.ones(2), optimize="fast"), "optimize must be one of"),
    (lambda: ac.einsum(3, ac.ones(2)), "equation must be a string"),
])
def test_errors_name_the_problem(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()

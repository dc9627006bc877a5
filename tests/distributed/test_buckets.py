"""Gradient buckets and the reduction, in one process: a stand-in world of two ranks whose
communicator adds what the other rank would send."""

import numpy
import pytest

import accel as ac
from accel.distributed import buckets
from accel.distributed.communicators import DONE, MPICommunicator


class FakeCommunicator:
    """Rank 0 of two; the other rank sends `other(buffer)` (default: the same buffer)."""

    size = 2

    def __init__(self, other=None):
        self.other = other or (lambda buffer: buffer.copy())
        self.started = []

    buffer_dtype = MPICommunicator.buffer_dtype

    def start_all_reduce(self, buffer, op="sum"):
        self.started.append(len(buffer))
        buffer += self.other(buffer)
        return DONE

    def progress(self):
        pass


class FakeWorld:
    size, rank = 2, 0

    def __init__(self, communicator=None, theirs=None):
        self.comm = communicator or FakeCommunicator()
        self.theirs = theirs

    def communicator(self, device):
        return self.comm

    def gather(self, value):
        return [value, value if self.theirs is None else self.theirs]


def variables(*shapes, dtype="float32"):
    return [ac.Variable(numpy.zeros(s, dtype), name=f"v{i}") for i, s in enumerate(shapes)]


def test_layout_cuts_last_first_by_size_and_dtype():
    sources = variables((4,), (100,), (3, 3), (2,)) + variables((5,), dtype="float64")
    layout = buckets.layout_for(sources, bucket_bytes=112 * 4, the_world=FakeWorld())
    members = [[index for index, *_ in b.members] for b in layout.buckets]
    # float32 from the last: v3 (2) + v2 (9) + v1 (100) = 111 elements fit; v0 starts a new bucket
    assert members == [[4], [3, 2, 1], [0]]
    assert [b.dtype for b in layout.buckets] == [numpy.float64, numpy.float32, numpy.float32]
    one_big = buckets.layout_for(variables((1000,), (10,)), bucket_bytes=64, the_world=FakeWorld())
    assert [[i for i, *_ in b.members] for b in one_big.buckets] == [[1], [0]]  # too big: alone


def test_layout_raises_naming_the_variables_that_differ():
    ours = variables((4,), (3,))
    theirs = buckets.signature(variables((4,), (5,))) + [("bucket_bytes", (), "1000")]
    with pytest.raises(ValueError, match=r"variables\[1\]: rank 0 has 'v1' shape \(3,\) float32, rank 1 has 'v1' "
                                         r"shape \(5,\)"):
        buckets.layout_for(ours, bucket_bytes=1000, the_world=FakeWorld(theirs=theirs))


def test_reduction_averages_and_starts_buckets_in_layout_order():
    sources = variables((3,), (2,), (4,))
    world = FakeWorld()
    layout = buckets.layout_for(sources, bucket_bytes=12, the_world=world)  # one bucket per source
    reduction = buckets.Reduction(layout, "average", 2)
    grads = [ac.tensor(numpy.arange(s.size, dtype="float32") + 1) for s in sources]
    reduction.ready(0, grads[0])  # the last bucket is full first: it must wait for the others
    assert world.comm.started == []
    reduction.ready(2, grads[2])
    assert world.comm.started == [4 + 2]  # bucket 0 (source 2): 4 values, a presence and a slices flag
    reduction.ready(1, grads[1])
    assert world.comm.started == [6, 4, 5]
    out = reduction.finish(sources)
    for g, r in zip(grads, out):  # (g / 2) + (g / 2) from the two ranks
        numpy.testing.assert_array_equal(r.numpy(), g.numpy())


def test_a_gradient_missing_everywhere_stays_none_and_elsewhere_counts_as_zero():
    sources = variables((3,), (2,))
    absent_there = FakeCommunicator(other=lambda buffer: numpy.zeros_like(buffer))  # the other rank has none
    for world, expected in ((FakeWorld(), [None, None]), (FakeWorld(absent_there), [numpy.full(3, 0.5), None])):
        layout = buckets.layout_for(sources, bucket_bytes=1 << 20, the_world=world)
        reduction = buckets.Reduction(layout, "average", 2)
        reduction.ready(0, ac.tensor(numpy.ones(3, "float32")) if expected[0] is not None else None)
        out = reduction.finish(sources)  # source 1 never reported: missing
        assert out[1] is None
        if expected[0] is None:
            assert out[0] is None
        else:
            numpy.testing.assert_array_equal(out[0].numpy(), expected[0])


def test_float16_is_reduced_in_float32_on_mpi_and_comes_back_float16():
    sources = variables((3,), dtype="float16")
    layout = buckets.layout_for(sources, bucket_bytes=1 << 20, the_world=FakeWorld())
    assert layout.buckets[0].buffer_dtype == numpy.float32
    reduction = buckets.Reduction(layout, "sum", 2)
    reduction.ready(0, ac.tensor(numpy.array([1, 2, 60000], "float16")))
    (out,) = reduction.finish(sources)
    assert out.dtype == ac.float16
    assert out.numpy().tolist() == [2.0, 4.0, float("inf")]  # the float32 sum 120000 rounds to inf in float16


def test_integer_sources_are_left_out():
    sources = variables((3,)) + [ac.Variable(numpy.zeros(2, "int64"), name="count")]
    layout = buckets.layout_for(sources, bucket_bytes=1 << 20, the_world=FakeWorld())
    assert layout.place[1] is None
    reduction = buckets.Reduction(layout, "average", 2)
    reduction.ready(0, ac.tensor(numpy.ones(3, "float32")))
    assert reduction.finish(sources)[1] is None


@pytest.mark.parametrize("bad", [0, -1, "25", True])
def test_bucket_cap_must_be_positive(bad):
    with pytest.raises(ValueError, match="bucket_cap_mb must be a number > 0"):
        ac.distributed.DistributedGradientTape(bucket_cap_mb=bad)
    with pytest.raises(ValueError, match="op must be 'average' or 'sum'"):
        ac.distributed.DistributedOptimizer(ac.optimizers.SGD(), op="max")


def test_host_buffers_are_reused_only_once_nothing_views_them():
    sources = variables((3,), (2,))
    layout = buckets.layout_for(sources, bucket_bytes=1 << 20, the_world=FakeWorld())

    def reduce(value):
        reduction = buckets.Reduction(layout, "average", 2)
        for i, s in enumerate(sources):
            reduction.ready(i, ac.tensor(numpy.full(s.shape, value, "float32")))
        return reduction.finish(sources)

    held = reduce(1.0)
    second = reduce(2.0)  # the first results are alive: a new buffer
    assert held[0].numpy().tolist() == [1.0] * 3 and second[0].numpy().tolist() == [2.0] * 3
    first_buffer = id(held[0]._data.base)  # (an id: a reference here would keep it in use)
    del held
    third = reduce(3.0)  # the first buffer is free again: reused, and the second step's values stay
    assert id(third[0]._data.base) == first_buffer
    assert second[1].numpy().tolist() == [2.0] * 2 and third[1].numpy().tolist() == [3.0] * 2


def test_large_gradients_are_scaled_into_place_one_by_one():
    sources = variables((20000,), (3, 10000))
    layout = buckets.layout_for(sources, bucket_bytes=1 << 20, the_world=FakeWorld())
    assert len(layout.buckets) == 1 and layout.buckets[0].length >= buckets._PER_PART * 2
    rng = numpy.random.default_rng(0)
    grads = [ac.tensor(rng.standard_normal(s.shape).astype("float32")) for s in sources]
    reduction = buckets.Reduction(layout, "average", 2)
    for i, g in enumerate(grads):
        reduction.ready(i, g)
    for g, r in zip(grads, reduction.finish(sources)):
        numpy.testing.assert_array_equal(r.numpy(), g.numpy())

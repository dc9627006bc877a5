"""accel.distributed's buckets on the emulated CUDA device: the device-array path (CuPy calls,
no NumPy array mixed in, flags read back) with a stand-in communicator of two ranks."""

import numpy

import accel as ac
from accel.distributed import buckets


class _Twice:
    """Rank 0 of two whose partner sends the same buffer; arrays stay on the device."""

    size = 2

    def buffer_dtype(self, dtype):
        return dtype

    def start_all_reduce(self, buffer, op="sum"):
        buffer += buffer.copy()
        return self

    def wait(self):
        pass

    def progress(self):
        pass


class _World:
    size, rank = 2, 0

    def __init__(self):
        self.comm = _Twice()

    def communicator(self, device):
        return self.comm

    def gather(self, value):
        return [value, value]


def test_reduction_of_gradients_on_a_gpu(emulated_cuda):
    device = ac.get_device("cuda:0")
    rng = numpy.random.default_rng(0)
    shapes = [(3, 4), (5,), (2,)]
    sources = [ac.Variable(numpy.zeros(s, "float32"), device=device, name=f"v{i}") for i, s in enumerate(shapes)]
    layout = buckets.layout_for(sources, bucket_bytes=64, the_world=_World())
    values = [rng.standard_normal(s).astype("float32") for s in shapes]
    reduction = buckets.Reduction(layout, "average", 2)
    for i in (2, 0):
        reduction.ready(i, ac.tensor(values[i], device=device))
    out = reduction.finish(sources)  # source 1 never reported: no worker had it
    assert out[1] is None
    for i in (0, 2):
        assert out[i].device == device
        numpy.testing.assert_array_equal(out[i].numpy(), values[i])

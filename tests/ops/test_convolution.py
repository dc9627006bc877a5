"""conv1d / conv2d / depthwise_conv2d / conv2d_transpose: TensorFlow's values (worked examples of
docs/semantics.md section 16), against a direct loop over output positions, in every layout,
padding, stride, dilation and grouping; float16/32/64; and their errors."""

import itertools

import numpy
import pytest

import accel as ac
from accel.ops.windows import plan

R = numpy.random.default_rng(7)


def reference_conv(x, f, strides, dilations, pads, groups=1):
    """The NHWC convolution by its definition: a loop over output positions."""
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = strides, dilations, pads
    kh, kw, cg, out = f.shape
    xp = numpy.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    og = out // groups
    y = numpy.zeros((x.shape[0], oh, ow, out))
    for i, j in itertools.product(range(oh), range(ow)):
        window = xp[:, i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw, :]
        for g in range(groups):
            y[:, i, j, g * og:(g + 1) * og] = numpy.einsum(
                "nhwc,hwco->no", window[..., g * cg:(g + 1) * cg], f[..., g * og:(g + 1) * og])
    return y


def test_same_padding_puts_the_odd_pad_at_the_end():
    y = ac.conv2d(ac.ones((1, 8, 8, 1)), ac.ones((3, 3, 1, 1)), 2, "SAME")
    assert y.numpy()[0, :, :, 0].tolist() == [[9, 9, 9, 6], [9, 9, 9, 6], [9, 9, 9, 6], [6, 6, 6, 4]]
    assert plan("t", (7, 7), (3, 3), (2, 2), (1, 1), "SAME")[6:] == (1, 1, 1, 1, 4, 4)
    assert plan("t", (8, 8), (3, 3), (2, 2), (1, 1), "SAME")[6:] == (0, 1, 0, 1, 4, 4)


@pytest.mark.parametrize("h,w,kernel,strides,dilations,groups,padding", [
    (h, w, k, s, d, g, p)
    for h, w in [(5, 7), (8, 6)]
    for k in [(1, 1), (3, 2)]
    for s in [(1, 1), (2, 3)]
    for d in [(1, 1), (2, 1)]
    for g in [1, 2]
    for p in ["SAME", "VALID", ((1, 2), (0, 3))]
])
def test_conv2d_equals_its_definition(h, w, kernel, strides, dilations, groups, padding):
    x = R.normal(size=(2, h, w, 4))
    f = R.normal(size=kernel + (4 // groups, 6))
    windows = plan("t", (h, w), kernel, strides, dilations, padding)
    explicit = padding if isinstance(padding, str) else [[0, 0], list(padding[0]), list(padding[1]), [0, 0]]
    y = ac.conv2d(ac.tensor(x), ac.tensor(f), list(strides), explicit, dilations=list(dilations))
    want = reference_conv(x, f, strides, dilations, (windows.pt, windows.pb, windows.pl, windows.pr), groups)
    assert y.shape == want.shape
    numpy.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("groups", [1, 2])
def test_tiles_of_a_few_images_give_the_whole_batchs_values_and_gradients(monkeypatch, groups):
    """On the CPU the batch runs in tiles that keep im2col in cache; tiny tiles (one image, then
    three) must give what one tile of the whole batch gives, gradients included."""
    from accel.ops import convolution_core

    x, f = R.normal(size=(7, 6, 5, 4)), R.normal(size=(3, 3, 4 // groups, 6))

    def run():
        xt, ft = ac.tensor(x), ac.tensor(f)
        with ac.GradientTape() as tape:
            tape.watch([xt, ft])
            y = ac.conv2d(xt, ft, [1, 2], "SAME", dilations=[2, 1])
            loss = ac.sum(y * y)
        return [y.numpy(), *(g.numpy() for g in tape.gradient(loss, [xt, ft]))]

    whole = run()
    per_image = 6 * 3 * 9 * 4 * 8  # one image's im2col bytes (float64)
    for tile in (1, 3):
        monkeypatch.setattr(convolution_core, "_TILE_BYTES", tile * per_image)
        for got, want in zip(run(), whole):
            numpy.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_channels_first_is_the_transposed_channels_last():
    x, f = R.normal(size=(2, 6, 5, 4)), R.normal(size=(3, 2, 4, 3))
    last = ac.conv2d(ac.tensor(x), ac.tensor(f), [1, 2, 1, 1], "SAME").numpy()
    first = ac.conv2d(ac.tensor(x.transpose(0, 3, 1, 2)), ac.tensor(f), [1, 1, 2, 1], "SAME", data_format="NCHW")
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 3, 1), last, rtol=1e-13, atol=1e-13)
    explicit = ac.conv2d(ac.tensor(x.transpose(0, 3, 1, 2)), ac.tensor(f), 1, [[0, 0], [0, 0], [1, 1], [0, 2]],
                         data_format="NCHW")
    want = reference_conv(x, f, (1, 1), (1, 1), (1, 1, 0, 2))
    numpy.testing.assert_allclose(explicit.numpy().transpose(0, 2, 3, 1), want, rtol=1e-12, atol=1e-12)


def test_conv1d_is_conv2d_over_a_height_of_one():
    x, f = R.normal(size=(3, 9, 4)), R.normal(size=(3, 2, 6))  # grouped: 4 channels, 2 per group
    y = ac.conv1d(ac.tensor(x), ac.tensor(f), 2, "SAME", dilations=2)
    windows = plan("t", (1, 9), (1, 3), (1, 2), (1, 2), "SAME")
    want = reference_conv(x[:, None], f[None], (1, 2), (1, 2), (0, 0, windows.pl, windows.pr), 2)[:, 0]
    numpy.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    first = ac.conv1d(ac.tensor(x.transpose(0, 2, 1)), ac.tensor(f), [1, 1, 2], "SAME", data_format="NCW", dilations=2)
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 1), want, rtol=1e-12, atol=1e-12)
    explicit = ac.conv1d(ac.tensor(x), ac.tensor(f), 1, [[0, 0], [2, 1], [0, 0]])
    numpy.testing.assert_allclose(explicit.numpy(), reference_conv(x[:, None], f[None], (1, 1), (1, 1), (0, 0, 2, 1),
                                                                   2)[:, 0], rtol=1e-12, atol=1e-12)


def test_depthwise_conv2d_convolves_each_channel_with_its_own_filters():
    x, f = R.normal(size=(2, 6, 5, 3)), R.normal(size=(3, 2, 3, 2))
    y = ac.depthwise_conv2d(ac.tensor(x), ac.tensor(f), [1, 2, 1, 1], "SAME", dilations=[2, 1])
    windows = plan("t", (6, 5), (3, 2), (2, 1), (2, 1), "SAME")
    pads = (windows.pt, windows.pb, windows.pl, windows.pr)
    for c, m in itertools.product(range(3), range(2)):  # output channel c * M + m
        want = reference_conv(x[..., c:c + 1], f[:, :, c:c + 1, m:m + 1], (2, 1), (2, 1), pads)[..., 0]
        numpy.testing.assert_allclose(y.numpy()[..., c * 2 + m], want, rtol=1e-12, atol=1e-12)
    first = ac.depthwise_conv2d(ac.tensor(x.transpose(0, 3, 1, 2)), ac.tensor(f), [1, 1, 2, 1], "SAME",
                                data_format="NCHW", dilations=[2, 1])
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 3, 1), y.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("strides,padding,size", [(2, "SAME", 8), (2, "VALID", 9), (1, "SAME", 4), (3, "VALID", 12),
                                                  (2, [[0, 0], [1, 0], [0, 1], [0, 0]], 8)])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(strides, padding, size):
    """<conv2d(z, f), x> = <z, conv2d_transpose(x, f)> for every z: the transpose is conv2d's
    input gradient (TensorFlow defines it so)."""
    x, f = R.normal(size=(2, 4, 4, 3)), R.normal(size=(3, 3, 5, 3))
    y = ac.conv2d_transpose(ac.tensor(x), ac.tensor(f), (2, size, size, 5), strides, padding)
    assert y.shape == (2, size, size, 5)
    for _ in range(3):
        z = R.normal(size=(2, size, size, 5))
        forward = ac.conv2d(ac.tensor(z), ac.tensor(f), strides, padding).numpy()
        numpy.testing.assert_allclose(numpy.sum(forward * x), numpy.sum(z * y.numpy()), rtol=1e-11)
    first = ac.conv2d_transpose(ac.tensor(x.transpose(0, 3, 1, 2)), ac.tensor(f), (2, 5, size, size), strides,
                                padding if isinstance(padding, str) else [padding[i] for i in (0, 3, 1, 2)],
                                data_format="NCHW")
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 3, 1), y.numpy(), rtol=1e-13, atol=1e-13)


def test_conv2d_transpose_of_ones_counts_the_windows_covering_each_output():
    y = ac.conv2d_transpose(ac.ones((1, 2, 2, 1)), ac.ones((3, 3, 1, 1)), (1, 4, 4, 1), 2, "SAME")
    # SAME, n=4, k=3, s=2: pads (0, 1); windows start at 0 and 2
    assert y.numpy()[0, :, :, 0].tolist() == [[1, 1, 2, 1], [1, 1, 2, 1], [2, 2, 4, 2], [1, 1, 2, 1]]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtypes_are_kept(dtype):
    x, f = R.normal(size=(2, 5, 5, 2)), R.normal(size=(3, 3, 2, 4))
    y = ac.conv2d(ac.tensor(x, dtype=dtype), ac.tensor(f, dtype=dtype), 1, "SAME")
    assert y.dtype == numpy.dtype(dtype)
    want = reference_conv(x.astype(dtype).astype(float), f.astype(dtype).astype(float), (1, 1), (1, 1), (1, 1, 1, 1))
    numpy.testing.assert_allclose(y.numpy().astype(float), want, rtol={"float16": 1e-2, "float32": 1e-5,
                                                                       "float64": 1e-12}[dtype],
                                  atol={"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}[dtype])


def test_a_variable_filter_gets_its_gradient_and_keeps_its_value():
    f = ac.Variable(R.normal(size=(2, 2, 1, 1)))
    before = f.numpy().copy()
    x = ac.tensor(R.normal(size=(1, 3, 3, 1)))
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.conv2d(x, f, 1, "VALID"))
    g = tape.gradient(loss, f)
    # d sum / d f[i, j] = sum of the input under tap (i, j) over the 4 windows
    xs = x.numpy()[0, :, :, 0]
    want = numpy.array([[xs[i:i + 2, j:j + 2].sum() for j in range(2)] for i in range(2)])
    numpy.testing.assert_allclose(g.numpy()[:, :, 0, 0], want, rtol=1e-13, atol=1e-13)
    numpy.testing.assert_array_equal(f.numpy(), before)


@pytest.mark.parametrize("call,match", [
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 2, 4)), 1, "SAME"),
     r"input has 3 channels \(shape \(1, 5, 5, 3\)\).*2 input channels \(shape \(3, 3, 2, 4\)\)"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 4)), ac.ones((3, 3, 2, 3)), 1, "SAME"), "not a multiple of the 2 groups"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, "same_ish"), "padding must be"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, "SAME", data_format="NWHC"),
     "data_format must be 'NHWC' or 'NCHW'"),
    (lambda: ac.conv2d(ac.ones((1, 2, 5, 3)), ac.ones((3, 3, 3, 4)), 1, "VALID"),
     r"height window \(3 taps, dilation 1: span 3\) is larger than the VALID input \(2\)"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 0, "SAME"), "strides must be >= 1"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, "SAME", dilations=[1, 0]),
     "dilations must be >= 1"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), [2, 1, 1, 1], "SAME"),
     "strides must be 1 at the batch and channel positions"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), [1, 2, 3], "SAME"), "1, 2 or 4 entries"),
    (lambda: ac.conv2d(ac.ones((5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, "SAME"), "input must be 4-D"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4), dtype="float64"), 1, "SAME"),
     r"input \(float32\) and filters \(float64\) must have one dtype"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3), dtype="int32"), ac.ones((3, 3, 3, 4)), 1, "SAME"),
     "input must be floating point"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, [[0, 0], [1, 1], [1, 1], [1, 0]]),
     r"batch and channel axes must be \[0, 0\]"),
    (lambda: ac.conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 3, 4)), 1, [[0, 0], [1, 1], [1, 1]]), "4 pairs"),
    (lambda: ac.conv1d(ac.ones((1, 5, 3)), ac.ones((3, 3, 4)), 1, "SAME", data_format="NHWC"),
     "data_format must be 'NWC' or 'NCW'"),
    (lambda: ac.depthwise_conv2d(ac.ones((1, 5, 5, 3)), ac.ones((3, 3, 2, 2)), [1, 1, 1, 1], "SAME"),
     r"input has 3 channels.*filter expects 2"),
    (lambda: ac.conv2d_transpose(ac.ones((1, 4, 4, 3)), ac.ones((3, 3, 5, 3)), (1, 9, 8, 5), 2, "SAME"),
     r"gives spatial size \(5, 4\), not input's \(4, 4\)"),
    (lambda: ac.conv2d_transpose(ac.ones((1, 4, 4, 3)), ac.ones((3, 3, 5, 2)), (1, 8, 8, 5), 2, "SAME"),
     "input has 3 channels.*filters expect 2"),
    (lambda: ac.conv2d_transpose(ac.ones((1, 4, 4, 3)), ac.ones((3, 3, 5, 3)), (1, 8, 8, 4), 2, "SAME"),
     "must have batch 1 and 5 channels"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()

"""print: TensorFlow's tf.print formatting, to file descriptor 2 by default."""

import io
import sys

import numpy
import pytest

import accel as ac


def test_floats_take_the_fewest_digits_that_read_back(capfd):
    ac.print(ac.tensor(37.3375), ac.tensor(19.8264446), ac.tensor(37.337500000000006, dtype="float64"), -4.0,
             ac.tensor(-4.0))
    out, err = capfd.readouterr()
    assert out == "" and err == "37.3375 19.8264446 37.337500000000006 -4 -4\n"


def test_arrays_nested_and_summarized():
    stream = io.StringIO()
    ac.print(ac.tensor([[1, 2], [3, 4]]), ac.tensor(numpy.arange(10.0)), ac.tensor([True, False]), "text",
             output_stream=stream)
    assert stream.getvalue() == "[[1 2]\n [3 4]] [0 1 2 ... 7 8 9] [1 0] text\n"
    stream = io.StringIO()
    ac.print(ac.tensor(numpy.arange(7)), summarize=-1, sep=", ", end="!", output_stream=stream)
    assert stream.getvalue() == "[0 1 2 3 4 5 6]!"
    stream = io.StringIO()
    ac.print(ac.tensor(numpy.arange(16).reshape(8, 2)), summarize=1, output_stream=stream)
    assert stream.getvalue() == "[[0 1]\n ...\n [14 15]]\n"


def test_output_stream_and_arguments(capsys):
    ac.print("loss", ac.tensor(0.5), [1, ac.tensor(2.5)], output_stream=sys.stdout)
    assert capsys.readouterr().out == "loss 0.5 [1, 2.5]\n"
    with pytest.raises(ValueError, match="summarize must be an int >= -1"):
        ac.print(1, summarize=-2)
    with pytest.raises(TypeError, match="output_stream must be a writable stream"):
        ac.print(1, output_stream="stdout")

import accel._cpu


def test_compiled_module_is_built():
    info = accel._cpu.build_info()
    assert set(info) == {"openmp", "max_threads", "compiler"}
    assert info["max_threads"] >= 1

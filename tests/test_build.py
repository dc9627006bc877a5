import accel._cpu


def test_compiled_module_reports_how_it_was_built():
    info = accel._cpu.build_info()
    assert set(info) == {"openmp", "max_threads", "compiler", "isa", "supported_isas"}
    assert info["max_threads"] >= 1
    assert info["supported_isas"][0] == "baseline" and info["isa"] == info["supported_isas"][-1]

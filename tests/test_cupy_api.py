"""Every CuPy name accel reaches exists in the CuPy we pin, and takes the keywords accel passes.

accel's CUDA path runs only where a GPU is lent, so a NumPy-only name (CuPy's Generator has no
`normal`) would fail on every GPU and nowhere else. CuPy imports without a GPU, so its API can be
checked here: the sources are read for attribute chains on the array module (`xp.`, `._xp.`,
`.cupy.`, `cupy.`), on CuPy random generators, and for methods called on tensors' arrays."""

import ast
import inspect
import pathlib
import re

import pytest

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (the test extra installs it)")

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "accel"
ROOTS = {"xp", "_xp", "cupy"}  # names (or attributes) that hold the array module
# Parameters that hold a CuPy random Generator where accel's random module samples.
GENERATOR_NAMES = {("random.py", "s")}


def _chain(node):
    """['xp', 'random', 'default_rng'] for xp.random.default_rng, or None if it does not start at
    an array-module root."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        if node.attr in ROOTS and parts[:-1]:
            return ["cupy"] + parts[:-1][::-1]
        node = node.value
    if isinstance(node, ast.Name) and node.id in ROOTS and parts:
        return ["cupy"] + parts[::-1]
    return None


def _uses():
    """(file:line, chain, keyword names) of every array-module access in accel."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        calls = {id(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain = _chain(node)
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if chain is None and isinstance(node.value, ast.Name) and (path.name, node.value.id) in GENERATOR_NAMES:
                chain = ["cupy", "random", "Generator", node.attr]
            if chain is None:
                continue
            call = calls.get(id(node))
            keywords = [k.arg for k in call.keywords if k.arg] if call is not None else []
            found.append((where, chain, keywords))
    # Keep the longest chain per node position (xp.random.default_rng, not also xp.random).
    longest = {}
    for where, chain, keywords in found:
        key = (where, chain[1])
        if key not in longest or len(chain) > len(longest[key][1]):
            longest[key] = (where, chain, keywords)
    return list(longest.values())


def _resolve(chain):
    obj = cupy
    for part in chain[1:]:
        obj = getattr(obj, part)
    return obj


def _parameters(obj):
    """Parameter names of a callable (Cython functions: from the signature in the docstring);
    None when they cannot be told or it takes **kwargs."""
    try:
        params = inspect.signature(obj).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params}
    except (TypeError, ValueError):
        pass
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    match = re.match(r"[\w.]+\((.*)\)", doc[0]) if doc else None
    if match is None:
        return None
    if "**" in match.group(1):
        return None
    # "str code=None" (Cython) or "code=None": the name is the last word before any default.
    names = {p.split("=")[0].split(":")[0].strip().split()[-1].lstrip("*") for p in match.group(1).split(",")
             if p.strip().strip("*")}
    return names - {""}


def test_accel_reaches_cupy_through_the_array_module():
    uses = _uses()
    chains = {".".join(chain) for _, chain, _ in uses}
    # The scan sees what it must (a regression here means the scan went blind).
    for expected in ("cupy.cuda.Device", "cupy.RawModule", "cupy.random.default_rng", "cupy.matmul",
                     "cupy.random.Generator.standard_normal"):
        assert expected in chains, sorted(chains)


def test_every_cupy_name_accel_uses_exists():
    missing = []
    for where, chain, _ in _uses():
        try:
            _resolve(chain)
        except AttributeError:
            missing.append(f"{where}: {'.'.join(chain)}")
    assert not missing, f"not in CuPy {cupy.__version__}:\n" + "\n".join(missing)


def test_every_keyword_accel_passes_is_accepted():
    wrong = []
    for where, chain, keywords in _uses():
        if not keywords:
            continue
        params = _parameters(_resolve(chain))
        if params is None:
            continue
        for keyword in keywords:
            if keyword not in params:
                wrong.append(f"{where}: {'.'.join(chain)}(..., {keyword}=...) (takes {sorted(params)})")
    assert not wrong, "\n".join(wrong)


def test_array_methods_accel_calls_exist_on_cupy_arrays():
    methods = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        methods |= set(re.findall(r"_data\.(\w+)\(", path.read_text()))
    assert {"astype", "copy"} <= methods
    missing = sorted(m for m in methods if not hasattr(cupy.ndarray, m))
    assert not missing, missing

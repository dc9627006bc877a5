"""Model.summary(): the model's weights as a text table, one row per layer (sub-module) with its
output shape (the last call's, None for the batch axis; "?" before any call) and the weights it
holds itself, nested modules indented under theirs, and one row per Variable a module holds
directly (not in a layer). Each Variable is counted once, in the first row that reaches it, so the
rows add up to the total."""

from __future__ import annotations

import math

from ..variable import Variable

__all__ = ["summary_lines"]

_INDENT = "  "


def _count(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def _shapes(variables) -> str:
    return ", ".join("x".join(map(str, v.shape)) or "scalar" for v in variables)


def _rows(module, depth: int, seen: set, rows: list) -> None:
    """Rows for what `module` holds: its sub-modules (with their own weights, then theirs
    indented) and the Variables it holds directly."""
    indent = _INDENT * depth
    for label, item in module.children():
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Variable):
            name = item.name or label
            rows.append((f"{indent}{name} (Variable)", "-", _shapes([item]), f"{_count([item]):,}"))
            continue
        own = [v for _, v in item.children() if isinstance(v, Variable) and id(v) not in seen]
        seen.update(id(v) for v in own)
        shapes = _shapes(own) or ("(not built)" if getattr(item, "built", True) is False else "-")
        output = getattr(item, "output_shape", None)
        output = "?" if output is None else "(" + ", ".join(map(str, output)) + ("," if len(output) == 1 else "") + ")"
        rows.append((f"{indent}{item.name} ({type(item).__name__})", output, shapes, f"{_count(own):,}"))
        _rows(item, depth + 1, seen, rows)


def summary_lines(model) -> list:
    rows: list = []
    _rows(model, 0, {id(model)}, rows)
    header = ("Layer (type)", "Output Shape", "Weights", "Param #")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    rule = "-" * (sum(widths) + 9)
    line = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:<{widths[2]}}   {r[3]:>{widths[3]}}"  # noqa: E731
    variables = model.variables
    trainable = _count([v for v in variables if v.trainable])
    total = _count(variables)
    return [f'Model: "{model.name}"', rule, line(header), "=" * len(rule), *map(line, rows), "=" * len(rule),
            f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", rule]

"""Model.summary(): layers, their weights and parameter counts as a text table."""

from __future__ import annotations

import math

__all__ = ["summary_lines"]


def _layers(model) -> list:
    layers = getattr(model, "layers", None)
    if isinstance(layers, (list, tuple)):
        return list(layers)
    return [m for m in model.modules if m is not model]


def _count(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def summary_lines(model) -> list:
    rows = []
    for layer in _layers(model):
        variables = layer.variables
        shapes = ", ".join("x".join(map(str, v.shape)) or "scalar" for v in variables) or (
            "(not built)" if hasattr(layer, "kernel") and layer.kernel is None else "-")
        rows.append((f"{layer.name} ({type(layer).__name__})", shapes, f"{_count(variables):,}"))
    header = ("Layer (type)", "Weights", "Param #")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    rule = "-" * (sum(widths) + 6)
    line = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"  # noqa: E731
    variables = model.variables
    trainable = _count([v for v in variables if v.trainable])
    total = _count(variables)
    return [f'Model: "{model.name}"', rule, line(header), "=" * len(rule), *map(line, rows), "=" * len(rule),
            f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", rule]

"""Learning-rate schedules: callables step -> learning rate (Keras 3's formulas, semantics.md
section 5). Any plain callable of the step is accepted as a learning rate too."""

from __future__ import annotations

import math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize"]


def _real(value, name: str, where: str, low=None, low_open=False):
    """`value` if it is a finite real number (>= low, or > low when low_open); else an error
    naming it, at construction rather than steps later."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
    if low is not None and not (value > low if low_open else value >= low):
        raise ValueError(f"{where}: {name} must be {'>' if low_open else '>='} {low}, got {value}")
    return value


def _positive(value, name: str, where: str):
    return _real(value, name, where, low=0, low_open=True)


class LearningRateSchedule:
    """Base class: `schedule(step)` gives the learning rate for that step (a float)."""

    def __call__(self, step) -> float:
        raise TypeError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self) -> dict:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """Shared by ExponentialDecay and InverseTimeDecay: both decay in p = step / decay_steps,
    floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        where = type(self).__name__
        _real(initial_learning_rate, "initial_learning_rate", where, low=0)
        _positive(decay_steps, "decay_steps", where)
        _real(decay_rate, "decay_rate", where, low=0)  # a negative rate gives complex rates later
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            decay_rate=decay_rate, staircase=staircase, name=name)

    def _progress(self, step) -> float:
        p = step / self._config["decay_steps"]
        return math.floor(p) if self._config["staircase"] else p


class ExponentialDecay(_StepDecay):
    """initial * decay_rate ** p, p = step / decay_steps (floored when staircase)."""

    def __call__(self, step):
        c = self._config
        return c["initial_learning_rate"] * c["decay_rate"] ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary."""

    def __init__(self, boundaries, values, name=None):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"PiecewiseConstantDecay: len(boundaries) must be len(values) - 1, got "
                             f"{len(boundaries)} boundaries and {len(values)} values")
        if any(a >= b for a, b in zip(boundaries, boundaries[1:])):
            raise ValueError("PiecewiseConstantDecay: boundaries must be strictly increasing")
        self._config = dict(boundaries=boundaries, values=values, name=name)

    def __call__(self, step):
        boundaries, values = self._config["boundaries"], self._config["values"]
        for boundary, value in zip(boundaries, values):
            if step <= boundary:
                return value
        return values[-1]


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - s / decay_steps) ** power + end with s = min(step, decay_steps);
    with cycle, decay_steps grows to the next multiple of itself past the step instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name=None):
        _positive(decay_steps, "decay_steps", "PolynomialDecay")
        _real(initial_learning_rate, "initial_learning_rate", "PolynomialDecay", low=0)
        _real(end_learning_rate, "end_learning_rate", "PolynomialDecay", low=0)
        _positive(power, "power", "PolynomialDecay")  # power <= 0 divides by zero at the end
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            end_learning_rate=end_learning_rate, power=power, cycle=cycle, name=name)

    def __call__(self, step):
        c = self._config
        decay_steps = c["decay_steps"]
        if c["cycle"]:
            decay_steps = decay_steps * max(1, math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        fraction = 1 - step / decay_steps
        return (c["initial_learning_rate"] - c["end_learning_rate"]) * fraction ** c["power"] + c["end_learning_rate"]


class InverseTimeDecay(_StepDecay):
    """initial / (1 + decay_rate * p), p = step / decay_steps (floored when staircase)."""

    def __call__(self, step):
        c = self._config
        return c["initial_learning_rate"] / (1 + c["decay_rate"] * self._progress(step))


def _cosine(step, decay_steps, start, alpha):
    return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine from initial (or, with warmup, from warmup_target after a linear warmup of
    warmup_steps) down to alpha times it over decay_steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0,
                 name=None):
        _positive(decay_steps, "decay_steps", "CosineDecay")
        _real(initial_learning_rate, "initial_learning_rate", "CosineDecay", low=0)
        _real(alpha, "alpha", "CosineDecay", low=0)
        if warmup_target is not None:
            _real(warmup_target, "warmup_target", "CosineDecay", low=0)
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: warmup_steps must be >= 0, got {warmup_steps}")
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            alpha=alpha, warmup_target=warmup_target, warmup_steps=warmup_steps, name=name)

    def __call__(self, step):
        c = self._config
        if c["warmup_target"] is None:
            return _cosine(min(step, c["decay_steps"]), c["decay_steps"], c["initial_learning_rate"], c["alpha"])
        warmup = c["warmup_steps"]
        step = min(step, c["decay_steps"] + warmup)
        if step < warmup:
            return c["initial_learning_rate"] + (c["warmup_target"] - c["initial_learning_rate"]) * step / warmup
        return _cosine(step - warmup, c["decay_steps"], c["warmup_target"], c["alpha"])


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by t_mul, peaks shrink by m_mul."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name=None):
        _positive(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        _positive(t_mul, "t_mul", "CosineDecayRestarts")
        _real(initial_learning_rate, "initial_learning_rate", "CosineDecayRestarts", low=0)
        _real(m_mul, "m_mul", "CosineDecayRestarts", low=0)
        _real(alpha, "alpha", "CosineDecayRestarts", low=0)
        self._config = dict(initial_learning_rate=initial_learning_rate, first_decay_steps=first_decay_steps,
                            t_mul=t_mul, m_mul=m_mul, alpha=alpha, name=name)

    def __call__(self, step):
        c = self._config
        fraction = step / c["first_decay_steps"]
        t_mul = c["t_mul"]
        if t_mul != 1.0:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        else:
            restart = math.floor(fraction)
            fraction -= restart
        cosine = 0.5 * c["m_mul"] ** restart * (1.0 + math.cos(math.pi * fraction))
        return c["initial_learning_rate"] * ((1 - c["alpha"]) * cosine + c["alpha"])


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                            InverseTimeDecay, CosineDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict:
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """The schedule `serialize` (or Keras's serialize, which nests the same dict) describes."""
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise TypeError(f"deserialize: expected {{'class_name': ..., 'config': {{...}}}} (from serialize), "
                        f"got {config!r}")
    try:
        cls = _SCHEDULES[config["class_name"]]
    except KeyError:
        raise ValueError(f"deserialize: unknown schedule {config.get('class_name')!r}; known: "
                         f"{', '.join(sorted(_SCHEDULES))}") from None
    inner = {k: v for k, v in config["config"].items() if k != "dtype"}  # Keras writes a dtype
    return cls.from_config(inner)

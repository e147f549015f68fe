"""Optimizers and learning-rate schedules by name, for configs.

    from_config({"name": "adam", "learning_rate": 2e-4, "b1": 0.0, "b2": 0.9,
                 "schedule": "linear", "warmup_steps": 0}, num_steps=100_000, updates_per_step=5)

Each player has its own section (`config.optimizer.g`, `config.optimizer.d`), so G and D take
their own learning rates (TTUR) and betas. `schedule` names one of `SCHEDULES`:

- `constant`: `learning_rate` throughout;
- `linear`: from `learning_rate` at step 0 linearly to 0 at step `num_steps`;
- `warmup_cosine`: linearly from 0 to `learning_rate` over `warmup_steps`, then a cosine to 0 at
  `num_steps`.

Steps are G steps. D makes `updates_per_step` (n_critic) optimizer updates per G step, so its
schedule is stretched by that factor: both players reach the stated rates at the stated G steps.
The other keys are the optax optimizer's keyword arguments.
"""
import numbers
from typing import Optional

import optax

from jgan.registry import Registry

OPTIMIZERS = Registry("optimizer")  # name -> optax constructor
for _name in ("adam", "adamw", "sgd", "rmsprop", "lion"):
    OPTIMIZERS.register(_name, getattr(optax, _name))

SCHEDULES = Registry("learning-rate schedule")  # name -> (lr, total, warmup) -> optax schedule


@SCHEDULES.register("constant")
def constant(learning_rate: float, total: int, warmup: int):
    """The plain float: the optimizer is exactly the one built with a constant rate."""
    return learning_rate


@SCHEDULES.register("linear")
def linear(learning_rate: float, total: int, warmup: int):
    return optax.linear_schedule(learning_rate, 0.0, total)


@SCHEDULES.register("warmup_cosine")
def warmup_cosine(learning_rate: float, total: int, warmup: int):
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup, total, end_value=0.0)


def from_config(cfg, num_steps: Optional[int] = None,
                updates_per_step: int = 1) -> optax.GradientTransformation:
    """An optax optimizer from a config section: `name`, optionally `schedule` and
    `warmup_steps`, plus the optimizer's keyword arguments; `num_steps` is the run's length in
    G steps (needed by every schedule but `constant`)."""
    kwargs = dict(cfg)
    name = kwargs.pop("name")
    schedule = kwargs.pop("schedule", "constant")
    warmup_steps = kwargs.pop("warmup_steps", 0)
    constructor = OPTIMIZERS.get(name)
    if "learning_rate" in kwargs:
        kwargs["learning_rate"] = learning_rate(kwargs["learning_rate"], schedule, num_steps,
                                                warmup_steps, updates_per_step)
    elif schedule != "constant":
        raise ValueError(f"optimizer {name!r}: schedule {schedule!r} needs a learning_rate")
    try:
        return constructor(**kwargs)
    except TypeError as e:
        raise ValueError(f"optimizer {name!r}: {e}") from None


def learning_rate(value, schedule: str = "constant", num_steps: Optional[int] = None,
                  warmup_steps: int = 0, updates_per_step: int = 1):
    """`value` under `schedule` (a float for `constant`, else an optax schedule over optimizer
    updates); a bad rate or a schedule that does not fit the run raises a one-line ValueError."""
    # NaN passes on purpose: the run's finiteness checks stop it at its first step, and the
    # fault tests inject NaNs that way.
    if not _is_number(value) or value < 0:
        raise ValueError(f"learning_rate={value!r}; expected a number >= 0")
    make = SCHEDULES.get(schedule)
    if not _is_int(warmup_steps) or warmup_steps < 0:
        raise ValueError(f"warmup_steps={warmup_steps!r}; expected an integer >= 0")
    if warmup_steps and schedule != "warmup_cosine":
        raise ValueError(f"warmup_steps={warmup_steps} with schedule {schedule!r}; expected "
                         f"schedule 'warmup_cosine' or warmup_steps=0")
    if schedule == "constant":
        return make(value, None, 0)
    if not _is_int(num_steps) or num_steps < 1:
        raise ValueError(f"schedule {schedule!r} needs the run's num_steps >= 1; got {num_steps!r}")
    if warmup_steps >= num_steps:
        raise ValueError(f"warmup_steps={warmup_steps} does not fit a run of num_steps="
                         f"{num_steps}; expected 0 <= warmup_steps < num_steps")
    if not _is_int(updates_per_step) or updates_per_step < 1:
        raise ValueError(f"updates_per_step={updates_per_step!r}; expected an integer >= 1")
    return make(value, num_steps * updates_per_step, warmup_steps * updates_per_step)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)

"""Parameter checks and seeded generators, shared by every layer.

Each check raises one message shape, so that a learner reads every mistake the same way::

    <name> must be <what is expected>, got <what was given>. <how to fix it>

``TypeError`` when the kind is wrong (a string for a number, an int for a bool),
``ValueError`` when the kind is right but the value is not (``mem_size=-3``).
Bools are never taken for numbers, nor numbers for bools.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

__all__ = [
    "is_int",
    "check_positive_int",
    "check_int_range",
    "check_number",
    "check_bool",
    "check_seed",
    "SKLEARN_SEED_END",
    "make_generator",
    "next_seed",
    "resolve_seed",
]


def _fail(error: type[Exception], name: str, expected: str, value: Any, fix: str) -> Exception:
    return error(f"{name} must be {expected}, got {value!r}. {fix}".rstrip())


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers; False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any, fix: str = "", *, allow_none: bool = False) -> None:
    """An int >= 1 (or None when ``allow_none``).

    >>> check_positive_int("mem_size", -3, "Use mem_size=200 for a small memory.")
    Traceback (most recent call last):
    ...
    ValueError: mem_size must be a positive int, got -3. Use mem_size=200 for a small memory.
    """
    if value is None and allow_none:
        return
    expected = "a positive int" + (" or None" if allow_none else "")
    if not is_int(value) or value <= 0:
        raise _fail(ValueError, name, expected, value, fix)


def check_int_range(name: str, value: Any, low: int, high: int | None, fix: str = "") -> None:
    """An int in ``[low, high]`` (``high=None``: no upper bound)."""
    expected = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
    if not is_int(value) or value < low or (high is not None and value > high):
        raise _fail(ValueError, name, expected, value, fix)


def check_number(
    name: str,
    value: Any,
    fix: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """A finite real number in the given range (bounds closed unless ``*_open``).

    >>> check_number("lr", 0, "Try lr=0.01.", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number > 0, got 0. Try lr=0.01.
    """
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    expected = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(TypeError, name, expected, value, fix)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise _fail(ValueError, name, expected, value, fix)


def check_bool(name: str, value: Any) -> None:
    """Exactly True or False: a string, an int or None is refused.

    >>> check_bool("shuffle", "no")
    Traceback (most recent call last):
    ...
    TypeError: shuffle must be True or False, got 'no'. Write shuffle=False.
    """
    if not isinstance(value, bool):
        raise _fail(TypeError, name, "True or False", value, f"Write {name}=False.")


#: seeds NumPy and scikit-learn accept end here; torch's generators take up to 2**64 - 1
SKLEARN_SEED_END = 2**32


def check_seed(seed: Any, name: str = "seed", end: int = 2**64) -> None:
    """None or an int in ``[0, end - 1]`` (``end=SKLEARN_SEED_END`` before scikit-learn)."""
    if seed is None:
        return
    fix = f"Use {name}=0 for a fixed result, or None to draw from torch's global generator."
    if not is_int(seed):
        raise _fail(TypeError, name, "an int or None", seed, fix)
    if not 0 <= seed < end:
        raise _fail(ValueError, name, f"an int in [0, {_power_of_two(end)} - 1] or None", seed, fix)


def _power_of_two(n: int) -> str:
    return f"2**{n.bit_length() - 1}" if n & (n - 1) == 0 else str(n)


def make_generator(seed: int | None) -> torch.Generator | None:
    """A seeded CPU generator, or None to draw from torch's global generator.

    >>> make_generator(None) is None, make_generator(0).initial_seed()
    (True, 0)
    """
    check_seed(seed)
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def next_seed(generator: torch.Generator | None) -> int:
    """A fresh seed in ``[0, 2**62)`` drawn from ``generator`` (None: torch's global one).

    Used to give each part of a run (an epoch's order, a lazily built network) its own
    seed derived from the one ``seed=`` of the whole run.
    """
    return int(torch.randint(2**62, (1,), generator=generator))


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or one int in ``[0, 2**31 - 1)`` from torch's global generator.

    For seeds handed to scikit-learn too, so it checks ``seed < SKLEARN_SEED_END``.
    """
    check_seed(seed, end=SKLEARN_SEED_END)
    return int(torch.randint(0, 2**31 - 1, (1,))) if seed is None else int(seed)

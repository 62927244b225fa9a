"""Checks for the notebooks' exercises: a student's function against cltutor's own.

Each ``check_*`` calls the student's function on random and edge cases, compares it with the
library's implementation and answers in one line: ``correct: ...`` or the first case that
differs, with the expected and the given value. A :class:`CheckResult` is true when the answer
is correct, so ``assert check_bwt(my_bwt)`` works in a script, and ``print`` shows the line::

    def my_bwt(A):
        T = len(A) - 1
        return np.mean([A[T, k] - A[k, k] for k in range(T)])

    print(check_bwt(my_bwt))   # correct: my_bwt agrees with cltutor on 9 cases

The contract of each function (its arguments and what it returns) is in its checker's
docstring; the notebooks repeat it in the exercise cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from cltutor.evaluation import average_accuracy, backward_transfer, forgetting
from cltutor.memory.quotas import group_quotas
from cltutor.memory.selection import herding_order
from cltutor.strategies import distillation_loss, ewc_penalty, project_gradient
from cltutor.sweep import summarize

__all__ = ["CheckResult", "check_average_accuracy", "check_forgetting", "check_bwt",
           "check_quotas", "check_agem_projection", "check_ewc_penalty",
           "check_distillation_loss", "check_herding_step", "check_reservoir",
           "check_algorithm_r_slots", "check_ci95"]


@dataclass(frozen=True)
class CheckResult:
    """What a check found: ``passed`` and the one line to show (its ``str`` and ``repr``).

    Examples
    --------
    >>> result = check_quotas(lambda mem_size, n_groups: [mem_size // n_groups] * n_groups)
    >>> bool(result)
    False
    >>> print(result)  # doctest: +ELLIPSIS
    not yet: <lambda>(mem_size=10, n_groups=3) should be [4, 3, 3], got [3, 3, 3].
    """

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__


def _show(value: Any) -> str:
    """One short line: arrays and tensors to 4 digits, dicts of them by name."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.ndarray):
        text = np.array2string(value.astype(float), precision=4, suppress_small=True,
                               separator=", ", max_line_width=10**6)
        text = " ".join(text.split())
    elif isinstance(value, np.integer):
        text = repr(int(value))
    elif isinstance(value, (float, np.floating)):
        text = f"{float(value):.4g}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _same(expected: Any, given: Any) -> bool:
    if isinstance(expected, list) and all(isinstance(v, int) for v in expected):
        try:
            return [int(v) for v in given] == expected and len(list(given)) == len(expected)
        except (TypeError, ValueError):
            return False
    try:
        exp = np.asarray(expected.detach() if isinstance(expected, torch.Tensor) else expected,
                         dtype=float)
        got = np.asarray(given.detach() if isinstance(given, torch.Tensor) else given,
                         dtype=float)
    except (TypeError, ValueError):
        return False
    return exp.shape == got.shape and bool(np.allclose(exp, got, rtol=1e-5, atol=1e-6,
                                                       equal_nan=True))


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _call(fn: Callable, kwargs: dict[str, Any], shown: str) -> tuple[Any, CheckResult | None]:
    """``fn(**kwargs)``, or the answer that says why it could not give a value."""
    try:
        return fn(**kwargs), None
    except NotImplementedError:
        return None, CheckResult(False, f"not yet: {_name(fn)} raises NotImplementedError; "
                                        f"fill in its body first.")
    except Exception as err:
        return None, CheckResult(False, f"not yet: {_name(fn)}({shown}) raised "
                                        f"{type(err).__name__}: {err}")


def _compare(fn: Callable, reference: Callable, cases: Iterable[dict[str, Any]]) -> CheckResult:
    """Call ``fn`` and ``reference`` on each case (keyword arguments); stop at a difference."""
    if not callable(fn):
        return CheckResult(False, f"not yet: pass your function itself, got {_show(fn)}.")
    n = 0
    for case in cases:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in case.items())
        copies = {k: v.clone() if isinstance(v, torch.Tensor) else
                  v.copy() if isinstance(v, (np.ndarray, dict, list)) else v
                  for k, v in case.items()}  # a function that changes its inputs changes no case
        expected = reference(**case)
        given, failed = _call(fn, copies, shown)
        if failed is not None:
            return failed
        if not _same(expected, given):
            return CheckResult(False, f"not yet: {_name(fn)}({shown}) should be "
                                      f"{_show(expected)}, got {_show(given)}.")
        n += 1
    return CheckResult(True, f"correct: {_name(fn)} agrees with cltutor on {n} cases")


def _matrices(seed: int = 0) -> list[np.ndarray]:
    """Accuracy matrices: 1x1, a hand-sized 3x3, random 2x2 to 5x5, one with no forgetting."""
    rng = np.random.default_rng(seed)
    out = [np.array([[0.9]]), np.array([[1.0, 0.0, 0.2], [0.8, 1.0, 0.0], [0.4, 0.5, 1.0]])]
    out += [rng.uniform(0, 1, (n, n)).round(3) for n in (2, 3, 4, 5, 5)]
    out.append(np.triu(np.ones((3, 3))) * 0.5 + 0.5)  # later training helps: negative forgetting
    out.append(np.full((2, 2), 0.7))
    return out


def check_average_accuracy(fn: Callable[[np.ndarray], float]) -> CheckResult:
    """``fn(A) -> float``: the mean of the last row of the accuracy matrix ``A``
    (``A[t, k]``: accuracy on experience ``k`` after training on ``t``)."""
    return _compare(fn, lambda A: average_accuracy(A), ({"A": A} for A in _matrices()))


def check_forgetting(fn: Callable[[np.ndarray], np.ndarray]) -> CheckResult:
    """``fn(A) -> array of T values``: ``A[k, k] - A[T, k]`` for ``k < T``, where ``T`` is
    the index of the last row (0-based); empty for a 1x1 matrix."""
    return _compare(fn, lambda A: forgetting(A), ({"A": A} for A in _matrices()))


def check_bwt(fn: Callable[[np.ndarray], float]) -> CheckResult:
    """``fn(A) -> float``: backward transfer, the mean of ``A[T, k] - A[k, k]`` over
    ``k < T`` (``T`` the last row's index, 0-based); NaN for a 1x1 matrix."""
    return _compare(fn, lambda A: backward_transfer(A), ({"A": A} for A in _matrices()))


def check_quotas(fn: Callable[[int, int], list[int]]) -> CheckResult:
    """``fn(mem_size, n_groups) -> list of n_groups ints``: the slots of each group when
    ``mem_size`` slots are shared as evenly as possible, the remainder going one each to
    the first groups (so they sum to ``mem_size``)."""
    cases = [(10, 3), (200, 5), (7, 7), (3, 5), (0, 2), (1, 1), (101, 4), (1000, 3)]
    return _compare(fn, lambda mem_size, n_groups: group_quotas(mem_size, n_groups),
                    ({"mem_size": m, "n_groups": g} for m, g in cases))


def check_agem_projection(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                          ) -> CheckResult:
    """``fn(g, g_ref) -> tensor``: ``g`` unchanged when ``g . g_ref >= 0``, else ``g`` minus
    its component along ``g_ref``: ``g - (g . g_ref) / (g_ref . g_ref) * g_ref``."""
    gen = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])),  # conflicting: projected
             (torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])),  # agreeing: unchanged
             (torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))]  # orthogonal: unchanged
    cases += [(torch.randn(6, generator=gen), torch.randn(6, generator=gen)) for _ in range(6)]
    return _compare(fn, lambda g, g_ref: project_gradient(g, g_ref),
                    ({"g": g, "g_ref": r} for g, r in cases))


def _ewc_reference(params: dict, anchor: dict, fisher: dict, ewc_lambda: float) -> torch.Tensor:
    model = nn.Module()
    for name, value in params.items():
        model.register_parameter(name, nn.Parameter(value.clone()))
    return ewc_penalty(model, [(fisher, anchor)], ewc_lambda).detach()


def check_ewc_penalty(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(params, anchor, fisher, ewc_lambda) -> scalar tensor``: EWC's penalty
    ``ewc_lambda / 2 * sum over parameters n of sum_i F_n,i (theta_n,i - theta*_n,i)^2``;
    ``params``, ``anchor`` (theta*) and ``fisher`` (F) are dicts name -> tensor."""
    gen = torch.Generator().manual_seed(0)

    def case(lam: float, same: bool = False) -> dict[str, Any]:
        shapes = {"weight": (3, 4), "bias": (3,)}
        params = {n: torch.randn(s, generator=gen) for n, s in shapes.items()}
        anchor = {n: p.clone() if same else torch.randn(p.shape, generator=gen)
                  for n, p in params.items()}
        fisher = {n: torch.rand(p.shape, generator=gen) for n, p in params.items()}
        return {"params": params, "anchor": anchor, "fisher": fisher, "ewc_lambda": lam}

    cases = [case(100.0, same=True), case(1.0), case(100.0), case(0.0), case(3.5)]
    return _compare(fn, _ewc_reference, cases)


def check_distillation_loss(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(new_logits, old_logits, temperature) -> scalar tensor``: LwF's
    ``KL(softmax(old / T) || softmax(new / T))``, averaged over the rows."""
    gen = torch.Generator().manual_seed(0)
    same = torch.randn(4, 5, generator=gen)
    cases = [(same, same, 2.0)]
    cases += [(torch.randn(n, c, generator=gen) * 3, torch.randn(n, c, generator=gen) * 3, t)
              for n, c, t in ((1, 2, 1.0), (8, 10, 2.0), (5, 3, 4.0), (16, 10, 0.5))]
    return _compare(fn, lambda new_logits, old_logits, temperature:
                    distillation_loss(new_logits, old_logits, temperature).detach(),
                    ({"new_logits": a, "old_logits": b, "temperature": t} for a, b, t in cases))


def check_herding_step(fn: Callable[[torch.Tensor, list[int]], int]) -> CheckResult:
    """``fn(features, chosen) -> int``: herding's next pick, the row ``j`` not in ``chosen``
    whose addition brings the mean of the chosen rows closest to the mean of all rows:
    the argmin of ``|| (sum of chosen + f_j) / (len(chosen) + 1) - mean ||``."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n, d in ((5, 2), (20, 3), (40, 8)):
        features = torch.randn(n, d, generator=gen)
        order = herding_order(features).tolist()
        cases += [{"features": features, "chosen": order[:i]} for i in (0, 1, 2, 4)]
    return _compare(fn, lambda features, chosen: int(herding_order(features)[len(chosen)]),
                    cases)


def check_reservoir(fn: Callable[[int, int, torch.Generator], Any],
                    trials: int = 3000) -> CheckResult:
    """``fn(n_items, mem_size, generator) -> the kept item indices``: one pass of reservoir
    sampling over items ``0 .. n_items - 1`` into ``mem_size`` slots, drawing its random
    numbers from ``generator`` (a ``torch.Generator``).

    Checked: the kept items are distinct and in range, ``min(n_items, mem_size)`` of them,
    all of them when they fit; and over ``trials`` passes every item is kept with
    probability ``mem_size / n_items`` (a chi-square test at the 0.1% level), so keeping
    the first or the last items, or replacing with the wrong probability, is caught.
    """
    from scipy import stats  # here: only this check needs it

    name = _name(fn)
    gen = torch.Generator().manual_seed(0)
    for n_items, mem_size in ((3, 5), (5, 5), (12, 4), (1, 1)):
        kept, failed = _call(fn, {"n_items": n_items, "mem_size": mem_size, "generator": gen},
                             f"n_items={n_items}, mem_size={mem_size}")
        if failed is not None:
            return failed
        try:
            kept = [int(i) for i in kept]
        except (TypeError, ValueError) as err:
            return CheckResult(False, f"not yet: {name}(n_items={n_items}, mem_size={mem_size})"
                                      f" should return item indices, got {_show(kept)} ({err}).")
        want = min(n_items, mem_size)
        bad = (len(kept) != want or len(set(kept)) != len(kept)
               or not all(0 <= i < n_items for i in kept))
        if bad:
            return CheckResult(False, f"not yet: {name}(n_items={n_items}, mem_size={mem_size})"
                                      f" should keep {want} distinct items of 0..{n_items - 1},"
                                      f" got {sorted(kept)}.")
    n_items, mem_size = 20, 5
    counts = np.zeros(n_items)
    for _ in range(trials):
        for i in fn(n_items=n_items, mem_size=mem_size, generator=gen):
            counts[int(i)] += 1
    expected = trials * mem_size / n_items
    p_value = stats.chisquare(counts, np.full(n_items, expected)).pvalue
    if p_value < 1e-3:
        worst = int(np.argmax(np.abs(counts - expected)))
        return CheckResult(False, f"not yet: over {trials} passes of {name}(n_items=20, "
                                  f"mem_size=5) each item should be kept about {expected:.0f} "
                                  f"times (probability 5/20), got item {worst} kept "
                                  f"{counts[worst]:.0f} times (chi-square p = {p_value:.1e}).")
    return CheckResult(True, f"correct: {name} keeps the right number of distinct items, and "
                             f"every item with probability M/n over {trials} passes")


def check_algorithm_r_slots(fn: Callable[..., Any], trials: int = 4000) -> CheckResult:
    """``fn(n_seen, batch_size, mem_size, generator) -> slots``: Algorithm R for a minibatch.

    ``n_seen`` samples came before the batch; the answer holds one slot per new sample, in
    ``0 .. mem_size - 1``, or -1 for a sample that is dropped. Checked: the length and the
    range; while the memory fills, sample ``i`` goes to slot ``i``; and over ``trials``
    batches after the memory is full, sample ``i`` of the stream is written with probability
    ``mem_size / (i + 1)`` (a binomial test per position, more than 4.5 standard errors off
    fails) and to each slot alike (a chi-square test at the 0.1% level). Replacing with
    ``mem_size / n_seen`` for the whole batch, or never dropping, is caught.
    """
    from scipy import stats  # here: only this check needs it

    if not callable(fn):
        return CheckResult(False, f"not yet: pass your function itself, got {_show(fn)}.")
    name = _name(fn)
    gen = torch.Generator().manual_seed(0)

    def slots_of(n_seen: int, batch_size: int, mem_size: int) -> tuple[Any, CheckResult | None]:
        shown = f"n_seen={n_seen}, batch_size={batch_size}, mem_size={mem_size}"
        slots, failed = _call(fn, {"n_seen": n_seen, "batch_size": batch_size,
                                   "mem_size": mem_size, "generator": gen}, shown)
        if failed is not None:
            return None, failed
        try:
            slots = [int(v) for v in slots]
        except (TypeError, ValueError) as err:
            return None, CheckResult(False, f"not yet: {name}({shown}) should return one slot "
                                            f"(or -1) per new sample, got {_show(slots)} ({err}).")
        if len(slots) != batch_size or not all(-1 <= v < mem_size for v in slots):
            return None, CheckResult(False, f"not yet: {name}({shown}) should return "
                                            f"{batch_size} values in -1..{mem_size - 1}, got "
                                            f"{slots}.")
        return slots, None

    for n_seen, batch_size, mem_size, filled in ((0, 3, 5, [0, 1, 2]), (3, 2, 5, [3, 4]),
                                                 (2, 1, 3, [2])):
        slots, failed = slots_of(n_seen, batch_size, mem_size)
        if failed is not None:
            return failed
        if slots != filled:
            return CheckResult(False, f"not yet: {name}(n_seen={n_seen}, batch_size="
                                      f"{batch_size}, mem_size={mem_size}) should be {filled} "
                                      f"(the memory is filling), got {slots}.")
    n_seen, batch_size, mem_size = 20, 5, 10
    written, per_slot = np.zeros(batch_size), np.zeros(mem_size)
    for _ in range(trials):
        slots, failed = slots_of(n_seen, batch_size, mem_size)
        if failed is not None:
            return failed
        for k, v in enumerate(slots):
            if v >= 0:
                written[k] += 1
                per_slot[v] += 1
    p = mem_size / (np.arange(n_seen, n_seen + batch_size) + 1)  # M / (i + 1) for each sample
    z = (written - trials * p) / np.sqrt(trials * p * (1 - p))
    if np.abs(z).max() > 4.5:
        k = int(np.argmax(np.abs(z)))
        return CheckResult(False, f"not yet: over {trials} batches of {name}(n_seen=20, "
                                  f"batch_size=5, mem_size=10), sample {n_seen + k} of the "
                                  f"stream should be written about {trials * p[k]:.0f} times "
                                  f"(probability 10/{n_seen + k + 1}), got {written[k]:.0f}.")
    if stats.chisquare(per_slot).pvalue < 1e-3:
        return CheckResult(False, f"not yet: {name} should write to every slot alike once the "
                                  f"memory is full; over {trials} batches the slots were "
                                  f"written {per_slot.astype(int).tolist()} times.")
    return CheckResult(True, f"correct: {name} fills the memory in order, then writes sample "
                             f"i with probability M/(i + 1) to a uniform slot, over {trials} "
                             f"batches")


def _ci95_reference(values: np.ndarray) -> list[float]:
    frame = pd.DataFrame({"setting": 0, "seed": range(len(values)),
                          "average_accuracy": values, "error": None})
    row = summarize(frame, by=["setting"]).iloc[0]
    return [float(row["ci95_low"]), float(row["ci95_high"])]


def check_ci95(fn: Callable[[np.ndarray], tuple[float, float]]) -> CheckResult:
    """``fn(values) -> (low, high)``: the 95% confidence interval of the mean of ``values``
    (one score per seed), Student's t: ``mean -+ t(0.975, n - 1) * std / sqrt(n)`` with the
    sample standard deviation (``ddof=1``); ``scipy.stats.t.ppf`` gives ``t``."""
    rng = np.random.default_rng(0)
    cases = [np.array([0.5, 0.7]), np.array([0.8, 0.8, 0.8]), np.array([0.61, 0.65, 0.58])]
    cases += [rng.uniform(0.4, 0.9, n).round(3) for n in (4, 5, 10, 30)]
    return _compare(fn, _ci95_reference, ({"values": v} for v in cases))

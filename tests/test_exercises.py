"""cltutor.exercises: every check passes cltutor's own implementation and rejects wrong ones
with the first failing case, its expected and its given value."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cltutor import exercises as ex
from cltutor.evaluation import average_accuracy, backward_transfer, forgetting
from cltutor.memory import ReservoirMemory, algorithm_r_slots
from cltutor.memory.quotas import group_quotas
from cltutor.memory.selection import herding_order
from cltutor.strategies import distillation_loss, project_gradient


def library_reservoir(n_items, mem_size, generator):
    memory = ReservoirMemory(mem_size, seed=int(torch.randint(2**31, (1,), generator=generator)))
    memory.update(i=torch.arange(n_items))
    return memory.fields["i"].tolist()


def library_ewc(params, anchor, fisher, ewc_lambda):
    return ewc_lambda / 2 * sum((fisher[n] * (params[n] - anchor[n]) ** 2).sum() for n in params)


def _exercise_not_done(*args, **kwargs):
    raise NotImplementedError("Exercise: write this function")


LIBRARY = {
    ex.check_average_accuracy: lambda A: average_accuracy(A),
    ex.check_forgetting: lambda A: forgetting(A),
    ex.check_bwt: lambda A: backward_transfer(A),
    ex.check_quotas: lambda mem_size, n_groups: group_quotas(mem_size, n_groups),
    ex.check_agem_projection: lambda g, g_ref: project_gradient(g, g_ref),
    ex.check_ewc_penalty: library_ewc,
    ex.check_distillation_loss: lambda new_logits, old_logits, temperature:
        distillation_loss(new_logits, old_logits, temperature),
    ex.check_herding_step: lambda features, chosen: int(herding_order(features)[len(chosen)]),
    ex.check_reservoir: library_reservoir,
    ex.check_algorithm_r_slots: lambda n_seen, batch_size, mem_size, generator:
        algorithm_r_slots(n_seen, batch_size, mem_size, generator),
    ex.check_ci95: lambda values: t_interval(values),
}


def t_interval(values, ddof=1, normal=False):
    from scipy import stats

    n = len(values)
    half = (1.96 if normal else stats.t.ppf(0.975, n - 1)) * np.std(values, ddof=ddof) / n**0.5
    return np.mean(values) - half, np.mean(values) + half


def first_row_mean(A):
    return float(np.mean(A[0]))


def max_based_forgetting(A):  # Chaudhry's max-based definition, not the one taught
    A = np.asarray(A)
    T = len(A) - 1
    return np.array([A[:T, k].max() - A[T, k] for k in range(T)])


def bwt_over_all(A):  # includes k = T (a zero term) in the mean
    A = np.asarray(A)
    T = len(A) - 1
    return float(np.mean([A[T, k] - A[k, k] for k in range(T + 1)]))


def bwt_forgetting_sign(A):
    return float(np.mean(forgetting(A))) if len(A) > 1 else float("nan")


def floor_quotas(mem_size, n_groups):
    return [mem_size // n_groups] * n_groups


def remainder_to_last(mem_size, n_groups):
    base, extra = divmod(mem_size, n_groups)
    return [base + (i >= n_groups - extra) for i in range(n_groups)]


def always_project(g, g_ref):
    return g - (g @ g_ref) / (g_ref @ g_ref) * g_ref


def project_wrong_sign(g, g_ref):
    return torch.where(g @ g_ref < 0, g + (g @ g_ref) / (g_ref @ g_ref) * g_ref, g)


def ewc_without_half(params, anchor, fisher, ewc_lambda):
    return 2 * library_ewc(params, anchor, fisher, ewc_lambda)


def ewc_without_fisher(params, anchor, fisher, ewc_lambda):
    return ewc_lambda / 2 * sum(((params[n] - anchor[n]) ** 2).sum() for n in params)


def distill_no_temperature(new_logits, old_logits, temperature):
    return distillation_loss(new_logits, old_logits, 1.0)


def distill_reversed(new_logits, old_logits, temperature):  # KL(p || q) instead of KL(q || p)
    return F.kl_div(F.log_softmax(old_logits / temperature, 1),
                    F.log_softmax(new_logits / temperature, 1), reduction="batchmean",
                    log_target=True)


def herd_closest_to_mean(features, chosen):
    distance = (features - features.mean(0)).norm(dim=1)
    distance[chosen] = float("inf")
    return int(distance.argmin())


def herd_allows_repeats(features, chosen):
    total = features[chosen].sum(0)
    gap = ((total + features) / (len(chosen) + 1) - features.mean(0)).norm(dim=1)
    return int(gap.argmin())


def keep_first(n_items, mem_size, generator):
    return list(range(min(n_items, mem_size)))


def keep_last(n_items, mem_size, generator):
    return list(range(max(0, n_items - mem_size), n_items))


def replace_with_one_over_n(n_items, mem_size, generator):
    slots = []
    for i in range(n_items):
        if len(slots) < mem_size:
            slots.append(i)
        elif torch.rand((), generator=generator) < 1 / (i + 1):
            slots[int(torch.randint(mem_size, (), generator=generator))] = i
    return slots


def keeps_too_many(n_items, mem_size, generator):
    return list(range(n_items))


def replace_with_m_over_n_seen(n_seen, batch_size, mem_size, generator=None):
    # the count before the batch for every sample of it: late samples are kept too often
    i = torch.arange(n_seen, n_seen + batch_size)
    kept = torch.rand(batch_size, generator=generator) < mem_size / max(n_seen, 1)
    drawn = torch.randint(mem_size, (batch_size,), generator=generator)
    return torch.where(i < mem_size, i, torch.where(kept, drawn, -1))


def never_drop(n_seen, batch_size, mem_size, generator=None):
    i = torch.arange(n_seen, n_seen + batch_size)
    return torch.where(i < mem_size, i, torch.randint(mem_size, (batch_size,), generator=generator))


def drop_while_filling(n_seen, batch_size, mem_size, generator=None):
    return [-1] * batch_size


WRONG = [
    (ex.check_ci95, lambda values: t_interval(values, ddof=0), r"<lambda>\(values=\[0\.5, 0\.7\]\) "
                                                               r"should be \[-0\.6706, 1\.871\]"),
    (ex.check_ci95, lambda values: t_interval(values, normal=True), r"should be \[-0\.6706"),
    (ex.check_average_accuracy, first_row_mean, r"first_row_mean\(A=\[\[1\. , 0\. , 0\.2\].* "
                                                r"should be 0\.6333, got 0\.4\.$"),
    (ex.check_average_accuracy, lambda A: float(np.mean(A)), r"<lambda>\(A=.*should be"),
    (ex.check_forgetting, max_based_forgetting, r"max_based_forgetting\(A=.*should be"),
    (ex.check_forgetting, lambda A: forgetting(A)[:-1], r"should be \[0\.6, 0\.5\], got \[0\.6\]"),
    (ex.check_bwt, bwt_over_all, r"bwt_over_all\(A=\[\[0\.9\]\]\) should be nan, got 0\.$"),
    (ex.check_bwt, bwt_forgetting_sign, r"should be -0\.55, got 0\.55\."),
    (ex.check_quotas, floor_quotas, r"floor_quotas\(mem_size=10, n_groups=3\) should be "
                                    r"\[4, 3, 3\], got \[3, 3, 3\]\."),
    (ex.check_quotas, remainder_to_last, r"should be \[4, 3, 3\], got \[3, 3, 4\]\."),
    (ex.check_agem_projection, always_project, r"always_project\(g=\[1\., 1\.\], "
                                               r"g_ref=\[1\., 0\.\]\) should be \[1\., 1\.\]"),
    (ex.check_agem_projection, project_wrong_sign,
     r"should be \[0\.5, 0\.5\], got \[ 1\.5, -0\.5\]"),
    (ex.check_ewc_penalty, ewc_without_half, r"ewc_without_half\(params=.*should be"),
    (ex.check_ewc_penalty, ewc_without_fisher, r"ewc_without_fisher\(.*should be"),
    (ex.check_distillation_loss, distill_no_temperature, r"distill_no_temperature\(.*should be"),
    (ex.check_distillation_loss, distill_reversed, r"distill_reversed\(.*should be"),
    (ex.check_herding_step, herd_closest_to_mean, r"herd_closest_to_mean\(features=.*should be"),
    (ex.check_herding_step, herd_allows_repeats, r"herd_allows_repeats\(.*chosen=\[.*should be"),
    (ex.check_reservoir, keep_first, r"each item should be kept about 750 times"),
    (ex.check_reservoir, keep_last, r"each item should be kept about 750 times"),
    (ex.check_reservoir, replace_with_one_over_n, r"chi-square p = "),
    (ex.check_algorithm_r_slots, replace_with_m_over_n_seen,
     r"sample 24 of the stream should be written about 1600 times \(probability 10/25\)"),
    (ex.check_algorithm_r_slots, never_drop, r"sample 2\d of the stream should be written about"),
    (ex.check_algorithm_r_slots, drop_while_filling,
     r"drop_while_filling\(n_seen=0, batch_size=3, mem_size=5\) should be \[0, 1, 2\] \(the "
     r"memory is filling\), got \[-1, -1, -1\]\."),
    (ex.check_reservoir, keeps_too_many, r"keeps_too_many\(n_items=12, mem_size=4\) should keep "
                                         r"4 distinct items of 0\.\.11, got \[0, 1,"),
]


@pytest.mark.parametrize("check", list(LIBRARY), ids=lambda c: c.__name__)
def test_every_check_passes_the_library_implementation(check):
    result = check(LIBRARY[check])
    assert result.passed, result.message
    assert bool(result) and str(result).startswith("correct: ")


@pytest.mark.parametrize(("check", "wrong", "message"), WRONG,
                         ids=[f"{c.__name__}-{w.__name__}" for c, w, _ in WRONG])
def test_every_check_rejects_wrong_answers_naming_the_case(check, wrong, message):
    result = check(wrong)
    assert not result
    assert str(result).startswith("not yet: "), str(result)
    assert __import__("re").search(message, str(result)), str(result)


def test_every_check_is_tested_with_two_wrong_answers():
    checks = [getattr(ex, name) for name in ex.__all__ if name.startswith("check_")]
    assert set(checks) == set(LIBRARY)
    assert all(sum(c is check for c, _, _ in WRONG) >= 2 for check in checks)


@pytest.mark.parametrize("check", list(LIBRARY), ids=lambda c: c.__name__)
def test_an_unfilled_exercise_is_answered_kindly(check):
    result = check(_exercise_not_done)
    assert str(result) == ("not yet: _exercise_not_done raises NotImplementedError; fill in its "
                           "body first.")


def test_an_exception_and_a_non_function_are_reported_not_raised():
    result = ex.check_bwt(lambda A: A.nonexistent)
    assert str(result).startswith("not yet: <lambda>(A=[[0.9]]) raised AttributeError:")
    assert str(ex.check_bwt(0.5)) == "not yet: pass your function itself, got 0.5."


def test_a_function_that_changes_its_input_changes_no_case():
    def scribble(A):
        A[:] = 0
        return backward_transfer(np.zeros((len(A), len(A))))
    assert not ex.check_bwt(scribble)
    assert ex.check_bwt(LIBRARY[ex.check_bwt])  # the cases are intact afterwards


def test_the_docstring_examples_run():
    result = doctest.testmod(sys.modules["cltutor.exercises"], optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- the notebooks' checked exercises and their folded solutions -------------------------

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))
SOLUTION = re.compile(r"<details>.*?```python\n(.*?)```.*?</details>", re.S)
CHECK_CALL = re.compile(r"\b(check_\w+)\((\w+)\)")


def exercise_cells(path: Path) -> list[tuple[dict, dict]]:
    """(exercise cell, the markdown cell after it) for each code cell tagged ``exercise``."""
    cells = json.loads(path.read_text())["cells"]
    return [(c, cells[i + 1] if i + 1 < len(cells) else {})
            for i, c in enumerate(cells)
            if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_checked_exercise_whose_folded_solution_passes(path):
    pairs = exercise_cells(path)
    assert pairs, "a notebook has at least one checked exercise (a code cell tagged exercise)"
    for cell, after in pairs:
        source = "".join(cell["source"])
        assert 'raise NotImplementedError("Exercise: ' in source  # until the student fills it in
        calls = CHECK_CALL.findall(source)
        assert calls, "the exercise cell calls a check_* on the student's function"
        solution = SOLUTION.search("".join(after.get("source", [])))
        assert after.get("cell_type") == "markdown" and solution, \
            "a folded <details> solution with a python block follows the exercise"
        namespace: dict = {}
        exec(solution.group(1), namespace)  # noqa: S102  (it imports what it uses, as pasted)
        for check, function in calls:
            result = getattr(ex, check)(namespace[function])
            assert result.passed, f"{path.name}: the solution of {function}: {result}"
        outputs = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        assert "not yet:" in outputs and "raises NotImplementedError" in outputs, \
            "the committed notebook shows the unfilled exercise's answer"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_objectives_time_summary_reading_and_three_exercises(path):
    cells = json.loads(path.read_text())["cells"]
    markdown = [("".join(c["source"])) for c in cells if c["cell_type"] == "markdown"]
    assert "**What you will see**" in markdown[0] and "**Time**" in markdown[0]
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    assert headings[-3:] == ["## Summary", "## Further reading", "## Exercises"], headings[-3:]
    text = "\n".join(markdown)
    reading = text.split("\n## Further reading")[-1].split("\n## Exercises")[0]
    assert len(re.findall(r"\]\(https?://", reading)) >= 2, "further reading links its papers"
    exercises = text.split("\n## Exercises")[-1]
    assert len(re.findall(r"^\d+\. ", exercises, flags=re.M)) >= 3

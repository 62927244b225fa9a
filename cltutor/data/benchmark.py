"""Streams of experiences, benchmarks, and the three scenarios of continual learning.

A :class:`Stream` is an ordered, named list of experiences; a :class:`Benchmark` holds a
train and a test stream. The *scenario* (van de Ven's framing) says what a model is asked
at test time on the same stream of experiences:

* ``"class"``: which of all the classes seen so far is this? (labels 0..n_classes-1, one
  shared output layer, no task label to help);
* ``"task"``: which class of *this* task? (each experience is a task with its task label,
  given at test time too; labels restart at 0 in each task: one head per task);
* ``"domain"``: which class of the pair, without being told the task? (labels restart at 0
  in each experience, no task label: one shared head of k outputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cltutor._checks import check_bool
from cltutor.data.dataset import Experience

__all__ = ["Stream", "Benchmark", "SCENARIOS", "check_scenario", "scenario_flags"]

#: The three scenarios, with the flags each one implies: (return_task_id,
#: class_ids_from_zero_in_each_exp).
SCENARIOS = {"class": (False, False), "task": (True, True), "domain": (False, True)}


def check_scenario(scenario: object) -> None:
    """One of :data:`SCENARIOS`."""
    if scenario not in SCENARIOS:
        raise ValueError(
            f"scenario must be one of {list(SCENARIOS)}, got {scenario!r}. Use scenario='class' "
            "(class-incremental), 'task' (task labels, one head per task) or 'domain'."
        )


def scenario_flags(scenario: str | None, return_task_id: bool | None,
                   class_ids_from_zero_in_each_exp: bool | None) -> tuple[str, bool, bool]:
    """``(scenario, return_task_id, class_ids_from_zero_in_each_exp)`` made consistent.

    Flags left None take the scenario's values; a flag that contradicts the scenario is an
    error. Without a scenario it follows from the flags, as in Avalanche: task labels make
    it "task" when the labels also restart at 0 in each experience, relabelling alone makes
    it "domain", and otherwise it is "class" (``return_task_id=True`` alone only attaches
    task labels to class-incremental labels).

    Examples
    --------
    >>> scenario_flags("task", None, None)
    ('task', True, True)
    >>> scenario_flags(None, False, True)
    ('domain', False, True)
    """
    for name, flag in (("return_task_id", return_task_id),
                       ("class_ids_from_zero_in_each_exp", class_ids_from_zero_in_each_exp)):
        if flag is not None:
            check_bool(name, flag)
    if scenario is None:
        task_id, relabel = bool(return_task_id), bool(class_ids_from_zero_in_each_exp)
        scenario = "task" if task_id and relabel else "domain" if relabel else "class"
        return scenario, task_id, relabel
    check_scenario(scenario)
    implied = SCENARIOS[scenario]
    allowed = {"class": ((False, True), (False,)), "task": ((True,), (False, True)),
               "domain": ((False,), (True,))}[scenario]
    flags = (return_task_id, class_ids_from_zero_in_each_exp)
    names = ("return_task_id", "class_ids_from_zero_in_each_exp")
    for name, flag, ok, default in zip(names, flags, allowed, implied, strict=True):
        if flag is not None and flag not in ok:
            raise ValueError(
                f"{name}={flag} contradicts scenario={scenario!r}, which sets {name}="
                f"{default}. Leave {name} out, or choose another scenario."
            )
    task_id, relabel = (default if flag is None else flag
                        for flag, default in zip(flags, implied, strict=True))
    return scenario, task_id, relabel


class Stream(list):
    """An ordered list of experiences with a name (``"train"``, ``"test"``)."""

    #: "class", "task" or "domain" when a benchmark builder made the stream, else None.
    scenario: str | None = None

    def __init__(self, name: str, experiences: Iterable[Experience] = ()) -> None:
        super().__init__(experiences)
        self.name = name
        for exp in self:
            exp.origin_stream = self

    def __getitem__(self, item):  # slices stay streams, so eval(stream[:2]) keeps the name
        out = super().__getitem__(item)
        if isinstance(item, slice):
            sliced = Stream.__new__(Stream)
            list.__init__(sliced, out)
            sliced.name, sliced.scenario = self.name, self.scenario
            return sliced
        return out

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, {len(self)} experiences)"


class Benchmark:
    """A train stream and a test stream with matching experiences.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> bm.n_experiences, bm.n_classes, len(bm.train_stream), len(bm.test_stream)
    (5, 10, 5, 5)
    >>> SplitDigits(n_experiences=5, scenario="task", seed=0).n_classes  # per task
    2
    """

    def __init__(
        self,
        train_stream: Stream,
        test_stream: Stream,
        n_classes: int,
        classes_order: Sequence[int] | None = None,
        name: str = "benchmark",
        scenario: str | None = None,
    ) -> None:
        if scenario is not None:
            check_scenario(scenario)
        if len(train_stream) != len(test_stream):
            raise ValueError(
                f"train_stream has {len(train_stream)} experiences but test_stream has "
                f"{len(test_stream)}; they must match one to one."
            )
        self.train_stream = train_stream
        self.test_stream = test_stream
        self.n_classes = int(n_classes)
        self.classes_order = list(classes_order) if classes_order is not None else None
        self.name = name
        self.scenario = scenario
        train_stream.scenario = test_stream.scenario = scenario

    @property
    def n_experiences(self) -> int:
        return len(self.train_stream)

    @property
    def streams(self) -> dict[str, Stream]:
        return {"train": self.train_stream, "test": self.test_stream}

    def __repr__(self) -> str:
        return (
            f"{self.name}(n_experiences={self.n_experiences}, n_classes={self.n_classes}, "
            f"classes_order={self.classes_order}, scenario={self.scenario!r})"
        )

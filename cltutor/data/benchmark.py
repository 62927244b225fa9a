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

Two functions make a new train stream from an old one without touching the data:
:func:`split_online_stream` cuts it into small pieces for online learning and
:func:`imbalanced_stream` keeps a different share of each experience.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from cltutor._checks import (
    check_bool,
    check_number,
    check_positive_int,
    check_seed,
    make_generator,
    next_seed,
)
from cltutor.data.dataset import Experience

__all__ = [
    "Stream",
    "Benchmark",
    "SCENARIOS",
    "check_scenario",
    "scenario_flags",
    "split_online_stream",
    "imbalanced_stream",
    "halving_fractions",
]

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


# -- streams cut from a stream: online pieces and unequal sizes --------------------------
def split_online_stream(
    stream: Stream,
    experience_size: int,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int | None = None,
) -> Stream:
    """Cut every experience of ``stream`` into small experiences of ``experience_size`` rows.

    Avalanche's name, for online (single-pass) continual learning: train once on each small
    experience, in order. Each keeps ``origin_experience`` (the experience it was cut from),
    ``is_first_subexp``, ``is_last_subexp`` and ``sub_stream_length`` (how many pieces its
    origin gave). ``shuffle`` mixes the rows of an experience before cutting (seeded by
    ``seed``); ``drop_last`` drops a last piece smaller than ``experience_size``.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> online = split_online_stream(bm.train_stream, experience_size=10, seed=0)
    >>> len(bm.train_stream[0].dataset), online[0].sub_stream_length, len(online[0].dataset)
    (291, 30, 10)
    >>> last = online[29]
    >>> len(last.dataset), last.origin_experience.current_experience, last.is_last_subexp
    (1, 0, True)
    """
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be a cltutor Stream (e.g. bm.train_stream), got "
                        f"{type(stream).__name__}.")
    check_positive_int("experience_size", experience_size, "Use experience_size=10.")
    check_bool("shuffle", shuffle)
    check_bool("drop_last", drop_last)
    check_seed(seed)
    generator = make_generator(seed)
    pieces = []
    for origin in stream:
        data = origin.dataset
        n = len(data)
        g = None if generator is None else make_generator(next_seed(generator))
        order = torch.randperm(n, generator=g) if shuffle else torch.arange(n)  # None: global
        chunks = list(order.split(experience_size))
        if drop_last and len(chunks[-1]) < experience_size:
            chunks.pop()
        for i, rows in enumerate(chunks):
            piece = Experience(data.subset(rows), len(pieces))
            piece.origin_experience = origin
            piece.is_first_subexp, piece.is_last_subexp = i == 0, i == len(chunks) - 1
            piece.sub_stream_length = len(chunks)
            pieces.append(piece)
    online = Stream(stream.name, pieces)
    online.scenario = stream.scenario
    return online


def halving_fractions(n_experiences: int) -> list[float]:
    """``[1, 1/2, 1/4, ...]``: each experience half the size of the one before.

    >>> halving_fractions(4)
    [1.0, 0.5, 0.25, 0.125]
    """
    check_positive_int("n_experiences", n_experiences, "Use n_experiences=5.")
    return [0.5**k for k in range(n_experiences)]


def imbalanced_stream(stream: Stream, fractions: Sequence[float],
                      seed: int | None = 0) -> Stream:
    """The same stream with experiences of unequal sizes: a random ``fractions[k]`` of the
    rows of experience ``k`` (at least one row), in their original order.

    With equal-sized experiences a reservoir and an experience-balanced buffer end up
    alike; on an imbalanced stream the reservoir keeps each experience in proportion to its
    size and the balanced buffer gives each the same quota. The test stream is left alone:
    pass ``imbalanced_stream(bm.train_stream, ...)``.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> small = imbalanced_stream(bm.train_stream, halving_fractions(5))
    >>> [len(e.dataset) for e in bm.train_stream], [len(e.dataset) for e in small]
    ([291, 288, 290, 281, 287], [291, 144, 72, 35, 18])
    """
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be a cltutor Stream (e.g. bm.train_stream), got "
                        f"{type(stream).__name__}.")
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) \
            or len(fractions) != len(stream):
        raise ValueError(f"fractions must be a list of one fraction per experience "
                         f"({len(stream)}), got {fractions!r}. Try "
                         f"fractions=halving_fractions({len(stream)}).")
    for k, f in enumerate(fractions):
        check_number(f"fractions[{k}]", f, "Each is the share of the experience kept, e.g. 0.5.",
                     low=0, high=1, low_open=True)
    check_seed(seed)
    generator = make_generator(seed)
    kept = []
    for exp, fraction in zip(stream, fractions, strict=True):
        n = len(exp.dataset)
        g = None if generator is None else make_generator(next_seed(generator))
        rows = torch.randperm(n, generator=g)[:max(1, round(fraction * n))].sort().values
        kept.append(Experience(exp.dataset.subset(rows), exp.current_experience,
                               exp.classes_in_this_experience))
    out = Stream(stream.name, kept)
    out.scenario = stream.scenario
    return out

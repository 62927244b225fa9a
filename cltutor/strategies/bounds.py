"""Upper bounds to measure a strategy against: ``Cumulative`` and ``JointTraining``.

``Cumulative`` trains on each experience together with *all* the data of the experiences
before it: replay with an unlimited memory, the best any replay strategy can do on the
same stream. ``JointTraining`` forgets the stream altogether and trains one model on every
experience at once, the usual offline reference. Both are evaluated with the same
accuracy matrix as any strategy, so they plot and tabulate next to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from typing import Any

from cltutor.data import Experience
from cltutor.strategies.arguments import as_experiences
from cltutor.strategies.base import Naive

__all__ = ["Cumulative", "JointTraining"]


class Cumulative(Naive):
    """Naive on the union of every experience trained so far (Avalanche's ``Cumulative``).

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> strategy = Cumulative(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                       train_mb_size=32, evaluator=None, device="cpu")
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> len(strategy.seen_dataset) == sum(len(e.dataset) for e in bm.train_stream[:2])
    True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen_dataset: Any = None  # every training row so far

    def train_dataset_adaptation(self) -> None:
        """This experience's rows after all the earlier ones, on the device."""
        super().train_dataset_adaptation()
        seen = self.seen_dataset
        self.seen_dataset = self.adapted_dataset if seen is None else seen.concat(
            self.adapted_dataset)
        self.adapted_dataset = self.seen_dataset


class JointTraining(Naive):
    """One model trained once on every experience of the stream at once (offline).

    ``train(stream)`` concatenates the experiences into one and trains ``train_epochs`` on
    it, each sample once per epoch; its row of the accuracy matrix is that of the last
    experience, so ``evaluator.accuracy_matrix[-1]`` is the reference for a strategy's final
    row. It trains once: a second ``train()`` is an error, as in Avalanche.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> joint = JointTraining(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                       train_mb_size=32, evaluator=None, device="cpu")
    >>> _ = joint.train(bm.train_stream)
    >>> joint.clock.train_exp_counter, joint.clock.train_iterations == -(-1437 // 32)
    (1, True)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trained = False

    def train(self, experiences: Experience | Iterable[Experience], eval_streams: Any = None,
              **kwargs: Any) -> dict[str, float]:
        if self.trained:
            raise RuntimeError(
                "JointTraining trains once, on the whole stream: build a new JointTraining "
                "(and a new model) to train again."
            )
        experiences = as_experiences(experiences, "experiences")
        datasets = [e.dataset for e in experiences]
        classes = sorted({c for e in experiences for c in e.classes_in_this_experience})
        joint = Experience(reduce(lambda a, b: a.concat(b), datasets),
                           experiences[-1].current_experience, classes,
                           origin_stream=experiences[0].origin_stream)
        self.trained = True
        return super().train(joint, eval_streams, **kwargs)

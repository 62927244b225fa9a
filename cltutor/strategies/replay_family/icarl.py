"""iCaRL (Rebuffi et al., 2017): herding exemplars, distillation, nearest-mean classification.

Three parts, each fighting one cause of forgetting in class-incremental learning:

1. **Exemplars by herding.** After each experience, every class seen so far keeps the
   rows whose mean (L2-normalised) feature tracks the class mean best
   (:func:`~cltutor.memory.selection.herding_order`, with ``normalize=True``). With a fixed
   memory the quota per class shrinks as classes arrive; a class keeps the first rows of
   its herding order, which are the best subset of that size.
2. **Distillation on old outputs.** Training uses the exemplars with the new rows and a
   binary cross-entropy on sigmoid outputs, whose targets for the classes seen before are
   the old model's sigmoid outputs on the same input (``icarl_loss``).
3. **Nearest mean of exemplars.** At test time the head is not used: an input gets the
   class whose exemplar mean is nearest (:class:`~cltutor.models.NCMClassifier`), so the
   drift of the head's weights towards the new classes cannot bias the answer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cltutor._checks import check_bool, check_positive_int
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import ClassificationDataset
from cltutor.memory import HerdingSelectionStrategy, extract_features, group_quotas
from cltutor.models import NCMClassifier, TrainEvalModel, class_means
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["icarl_loss", "ICaRL"]


def icarl_loss(logits: Tensor, y: Tensor, old_logits: Tensor | None = None,
               old_classes: Sequence[int] = ()) -> Tensor:
    """Binary cross-entropy on ``sigmoid(logits)``: targets are one-hot ``y``, except the
    columns of ``old_classes``, whose targets are ``sigmoid(old_logits)`` (distillation).

    Examples
    --------
    >>> logits = torch.zeros(1, 2)  # sigmoid 0.5 everywhere: BCE log 2 per entry
    >>> round(float(icarl_loss(logits, torch.tensor([0]))), 4)
    0.6931
    """
    targets = F.one_hot(y, logits.shape[1]).to(logits.dtype)  # (B, C)
    if old_logits is not None and len(old_classes):
        cols = torch.as_tensor(list(old_classes), device=logits.device)
        targets[:, cols] = torch.sigmoid(old_logits[:, cols]).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, targets)


class _ExemplarsPlugin(SupervisedPlugin):
    """After each experience: the strategy rebuilds its exemplars, means and old model."""

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        strategy.update_exemplars()


class ICaRL(Naive):
    """iCaRL: ``Naive`` on new rows plus exemplars, with iCaRL's loss and an NCM classifier.

    As Avalanche's ``ICaRL``, it takes the network in two parts; the strategy's model is
    ``TrainEvalModel(feature_extractor, classifier, NCMClassifier())``, trained through
    ``classifier`` and tested by the nearest mean (before the first means exist, by
    ``classifier``). Build the optimizer on both parts.

    Parameters
    ----------
    feature_extractor, classifier : nn.Module
        E.g. ``SimpleMLP``'s ``features`` and ``classifier``.
    optimizer : torch.optim.Optimizer
    memory_size : int, default 200
        Exemplars in all (``fixed_memory=True``, shared evenly by the classes seen so far,
        the remainder to the smallest ids) or per class (``fixed_memory=False``).
    fixed_memory : bool, default True
    **naive_kwargs
        Any argument of ``Naive``; the criterion is iCaRL's own.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> net = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = ICaRL(net.features, net.classifier, torch.optim.SGD(net.parameters(), lr=0.05),
    ...                  memory_size=100, train_mb_size=32, evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> {c: len(d) for c, d in sorted(strategy.exemplars.items())} == {
    ...     c: 25 for c in bm.classes_order[:4]}
    True

    Notebook ``11_beyond_replay.ipynb`` compares its nearest-mean classifier with the head.
    """

    def __init__(self, feature_extractor: nn.Module, classifier: nn.Module,
                 optimizer: torch.optim.Optimizer, memory_size: int = 200,
                 fixed_memory: bool = True, plugins: Sequence[SupervisedPlugin] | None = None,
                 **naive_kwargs: Any) -> None:
        check_positive_int("memory_size", memory_size, "Use memory_size=200 for a small memory.")
        check_bool("fixed_memory", fixed_memory)
        if "criterion" in naive_kwargs:
            raise TypeError("ICaRL has its own criterion (icarl_loss); leave criterion out.")
        model = TrainEvalModel(feature_extractor, classifier, NCMClassifier(normalize=True))
        self.memory_size = memory_size
        self.fixed_memory = fixed_memory
        self.exemplars: dict[int, ClassificationDataset] = {}  # class -> rows, herding order
        self.old_model: nn.Module | None = None
        self.old_classes: list[int] = []
        self._n_outputs = 0  # the head's width, seen in training
        plugins = [*check_plugins(plugins), _ExemplarsPlugin()]
        super().__init__(model, optimizer, plugins=plugins, **naive_kwargs)

    # -- training ----------------------------------------------------------------
    def train_dataset_adaptation(self) -> None:
        """The new rows followed by every exemplar kept so far."""
        super().train_dataset_adaptation()
        for rows in self.exemplars.values():
            self.adapted_dataset = self.adapted_dataset.concat(rows.to(self.device))

    def criterion(self) -> Tensor:
        if not self.is_training:
            return super().criterion()
        old_logits = None
        if self.old_model is not None:
            with torch.no_grad():
                old_logits = self.old_model(self.mb_x)
        return icarl_loss(self.mb_output, self.mb_y, old_logits, self.old_classes)

    def forward(self) -> Tensor:
        """Training: the head. Evaluation: the nearest mean, widened with ``-inf`` to the
        head's width (the means cover only the classes seen), or the head before any mean."""
        if self.is_training:
            out = super().forward()
            self._n_outputs = out.shape[1]
            return out
        if not self.model.eval_classifier.class_means_dict:
            return self.model.train_classifier(self.model.feature_extractor(self.mb_x))
        out = super().forward()  # (B, max class seen + 1)
        missing = self._n_outputs - out.shape[1]
        return F.pad(out, (0, missing), value=float("-inf")) if missing > 0 else out

    # -- after each experience ---------------------------------------------------
    def update_exemplars(self) -> None:
        """Shrink the old classes' exemplars, herd the new classes', recompute the means and
        keep a frozen copy of the network for the next experience's distillation."""
        data = self.experience.dataset.to(self.device)
        classes = sorted({*self.exemplars, *data.classes})
        if self.fixed_memory:
            quota = dict(zip(classes, group_quotas(self.memory_size, len(classes)), strict=True))
        else:
            quota = dict.fromkeys(classes, self.memory_size)
        herding = HerdingSelectionStrategy(self.model, "feature_extractor", normalize=True)
        for c in classes:
            if c in self.exemplars:  # the first rows of a herding order: its best subset
                kept = self.exemplars[c]
                self.exemplars[c] = kept.subset(torch.arange(min(quota[c], len(kept))))
            else:
                rows = data.subset(data.y == c)
                self.exemplars[c] = rows.subset(herding.make_sorted_indices(self, rows, quota[c]))
        memory = [self.exemplars[c] for c in classes]
        stacked = memory[0]
        for rows in memory[1:]:
            stacked = stacked.concat(rows)
        features = extract_features(self.model, "feature_extractor", stacked, self.eval_mb_size)
        self.model.eval_classifier.replace_class_means_dict(class_means(features, stacked.y))
        self.old_model = copy.deepcopy(nn.Sequential(self.model.feature_extractor,
                                                     self.model.train_classifier)).eval()
        self.old_model.requires_grad_(False)
        self.old_classes = classes

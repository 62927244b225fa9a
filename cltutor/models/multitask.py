"""Multi-head models for task-incremental learning, with Avalanche's names.

A :class:`MultiTaskModule` is called as ``model(x, task_labels)``: the task label of
each row picks the output head that classifies it. :class:`MultiHeadClassifier` adds
a head the first time a task is trained (the strategy calls :meth:`adaptation`
before each training experience); :class:`MTSimpleMLP` is ``SimpleMLP``'s trunk
under one.

A minibatch that mixes tasks (replay of old tasks) is split by task, each part goes
through its own head, and the rows come back in their order: the same outputs as a
loop over the rows, one at a time.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_number, check_positive_int
from cltutor.models.simple import SimpleMLP

__all__ = ["MultiTaskModule", "MultiHeadClassifier", "MTSimpleMLP", "model_output",
           "adapt_model", "add_new_parameters", "experience_tasks"]


def model_output(model: nn.Module, x: Tensor, task_labels: Tensor) -> Tensor:
    """``model(x, task_labels)`` for a :class:`MultiTaskModule`, else ``model(x)``."""
    return model(x, task_labels) if isinstance(model, MultiTaskModule) else model(x)


def adapt_model(model: nn.Module, experience: Any) -> None:
    """Avalanche's model adaptation: :meth:`MultiTaskModule.adaptation` of the outermost
    multi-task parts of ``model`` (each adapts the parts inside it), so heads for the
    experience's new tasks are added, once."""
    if isinstance(model, MultiTaskModule):
        model.adaptation(experience)
        return
    for child in model.children():
        adapt_model(child, experience)


def add_new_parameters(optimizer: torch.optim.Optimizer, model: nn.Module) -> int:
    """Give ``optimizer`` the parameters of ``model`` it does not have yet (heads added by
    :func:`adapt_model`), as one new parameter group with the optimizer's defaults.

    The old parameters keep their state (momentum, Adam's moments); Avalanche instead
    resets the optimizer's groups at every experience. Returns how many were added.
    """
    known = {id(p) for group in optimizer.param_groups for p in group["params"]}
    new = [p for p in model.parameters() if id(p) not in known]
    if new:
        optimizer.add_param_group({"params": new})
    return len(new)


def experience_tasks(experience: Any) -> list[int]:
    """The task labels of an experience (or of anything with a ``task_labels`` list)."""
    return [int(t) for t in experience.task_labels]


class MultiTaskModule(nn.Module):
    """Base class of models whose forward takes ``(x, task_labels)``.

    Subclasses define :meth:`forward_single_task`; :meth:`forward` routes the rows of
    a minibatch by task. ``known_train_tasks_labels`` holds the tasks trained so far
    (the strategy's evaluation skips test experiences of other tasks).

    Examples
    --------
    >>> class TwoHeads(MultiTaskModule):
    ...     def forward_single_task(self, x, task_label):
    ...         return x * (task_label + 1)
    >>> TwoHeads()(torch.ones(3, 1), torch.tensor([0, 1, 0])).flatten().tolist()
    [1.0, 2.0, 1.0]
    """

    def __init__(self) -> None:
        super().__init__()
        self.known_train_tasks_labels: set[int] = set()

    def adaptation(self, experience: Any) -> None:
        """Before training on ``experience``: remember its tasks and adapt the multi-task
        parts inside (a subclass that adds heads extends this)."""
        self.known_train_tasks_labels.update(experience_tasks(experience))
        for child in self.children():
            adapt_model(child, experience)

    def forward_single_task(self, x: Tensor, task_label: int) -> Tensor:
        """The output for rows that all belong to task ``task_label``."""
        raise NotImplementedError(
            f"{type(self).__name__} must define forward_single_task(x, task_label)."
        )

    def forward(self, x: Tensor, task_labels: Tensor | int) -> Tensor:
        """``(B, ...)`` inputs and their task labels (a ``(B,)`` tensor or one int)."""
        if isinstance(task_labels, int):
            return self.forward_single_task(x, task_labels)
        if task_labels.shape != (x.shape[0],):
            raise ValueError(
                f"task_labels must hold one task label per row, shape ({x.shape[0]},), got "
                f"shape {tuple(task_labels.shape)}. Pass strategy.mb_task_id."
            )
        tasks = torch.unique(task_labels)
        if len(tasks) == 1:
            return self.forward_single_task(x, int(tasks[0]))
        rows = [torch.nonzero(task_labels == t).squeeze(1) for t in tasks]  # per task
        parts = [self.forward_single_task(x.index_select(0, r), int(t))
                 for r, t in zip(rows, tasks, strict=True)]
        return _pad_and_cat(parts)[torch.argsort(torch.cat(rows))]  # back in row order


def _pad_and_cat(parts: list[Tensor]) -> Tensor:
    """Concatenate ``(n_i, k_i)`` outputs, padding narrower heads with -inf logits."""
    width = max(p.shape[1] for p in parts)
    padded = [p if p.shape[1] == width else torch.cat(
        [p, p.new_full((p.shape[0], width - p.shape[1]), float("-inf"))], dim=1) for p in parts]
    return torch.cat(padded)


class MultiHeadClassifier(MultiTaskModule):
    """One linear head per task, added the first time the task is trained.

    Parameters
    ----------
    in_features : int
        Width of the features each head reads.
    initial_out_features : int, default 2
        Outputs of a new head; more if the task's experience has larger labels
        (labels restart at 0 in each task, as ``class_ids_from_zero_in_each_exp``).

    A head is added in :meth:`adaptation`, so the optimizer must be told about its
    parameters: ``Naive`` adds them as a new parameter group of the same optimizer
    (Avalanche instead re-creates the optimizer's parameter groups at each experience).

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, scenario="task", seed=0)
    >>> heads = MultiHeadClassifier(in_features=8)
    >>> heads.adaptation(bm.train_stream[0])
    >>> heads(torch.rand(4, 8), torch.zeros(4, dtype=torch.long)).shape
    torch.Size([4, 2])
    >>> sorted(heads.known_train_tasks_labels), len(heads.heads)
    ([0], 1)
    """

    def __init__(self, in_features: int, initial_out_features: int = 2) -> None:
        super().__init__()
        check_positive_int("in_features", in_features, "It is the width of the features.")
        check_positive_int("initial_out_features", initial_out_features,
                           "Use the number of classes per task, e.g. 2.")
        self.in_features = in_features
        self.initial_out_features = initial_out_features
        self.heads = nn.ModuleDict()
        self.register_buffer("_where", torch.empty(0), persistent=False)  # device of new heads

    def adaptation(self, experience: Any) -> None:
        """Add a head for every task of ``experience`` that has none."""
        super().adaptation(experience)
        classes = getattr(experience, "classes_in_this_experience", None) or [0]
        needed = max(self.initial_out_features, 1 + max(classes))
        for task in experience_tasks(experience):
            head = self.heads[str(task)] if str(task) in self.heads else None
            if head is None:
                self.heads[str(task)] = nn.Linear(self.in_features, needed).to(self._where.device)
            elif head.out_features < needed:
                raise ValueError(
                    f"task {task} was trained with labels 0..{head.out_features - 1}, and this "
                    f"experience has label {needed - 1}. Labels restart at 0 in each task: build "
                    f"the stream with scenario='task' (class_ids_from_zero_in_each_exp=True)."
                )

    def forward_single_task(self, x: Tensor, task_label: int) -> Tensor:
        if str(task_label) not in self.heads:
            trained = sorted(int(t) for t in self.heads)
            raise ValueError(
                f"task label {task_label} has no head: this MultiHeadClassifier has heads for "
                f"tasks {trained}, added when each task is first trained. Train on task "
                f"{task_label} first, or evaluate only the tasks trained so far, e.g. "
                f"strategy.eval(benchmark.test_stream[:{len(trained)}])."
            )
        return self.heads[str(task_label)](x)


class MTSimpleMLP(MultiTaskModule):
    """``SimpleMLP``'s trunk (``features``) under a :class:`MultiHeadClassifier`.

    Parameters
    ----------
    input_size : int, default 784
    hidden_size : int, default 512
    hidden_layers : int, default 1
    drop_rate : float, default 0.5
    initial_out_features : int, default 2
        Outputs of each task's head.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, scenario="task", seed=0)
    >>> model = MTSimpleMLP(input_size=64, hidden_size=32)
    >>> for exp in bm.train_stream[:2]:
    ...     model.adaptation(exp)
    >>> model(torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 1])).shape
    torch.Size([3, 2])
    """

    def __init__(self, input_size: int = 784, hidden_size: int = 512, hidden_layers: int = 1,
                 drop_rate: float = 0.5, initial_out_features: int = 2) -> None:
        super().__init__()
        check_number("drop_rate", drop_rate, "Try drop_rate=0.5, or 0 for none.",
                     low=0, high=1, high_open=True)
        trunk = SimpleMLP(num_classes=1, input_size=input_size, hidden_size=hidden_size,
                          hidden_layers=hidden_layers, drop_rate=drop_rate)
        self.input_size = input_size
        self.features = trunk.features
        self.classifier = MultiHeadClassifier(hidden_size, initial_out_features)

    def forward_single_task(self, x: Tensor, task_label: int) -> Tensor:
        return self.classifier.forward_single_task(self.features(x), task_label)

    def forward(self, x: Tensor, task_labels: Tensor | int) -> Tensor:
        """The trunk once for the whole minibatch, then each row's own head."""
        return self.classifier(self.features(x), task_labels)

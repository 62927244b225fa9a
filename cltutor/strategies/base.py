"""The training loop every strategy shares: ``Naive`` plus its plugins and clock.

``Naive`` fine-tunes one model on each experience in turn. It does nothing
against forgetting; other strategies are ``Naive`` plus plugins (replay,
A-GEM) or ``Naive`` with a few methods overridden (AR1).

Callback order for ``train(experiences)``::

    before_training
    for each experience:
        before_train_dataset_adaptation, after_train_dataset_adaptation
        (make_train_dataloader)
        before_training_exp
        for each epoch:
            before_training_epoch
            for each minibatch:
                before_training_iteration
                before_forward, after_forward
                before_backward, after_backward
                before_update, after_update
                after_training_iteration
            after_training_epoch
        after_training_exp
    after_training

and for ``eval(experiences)``::

    before_eval
    for each experience:
        before_eval_dataset_adaptation, after_eval_dataset_adaptation
        before_eval_exp
        for each minibatch:
            before_eval_iteration, before_eval_forward, after_eval_forward,
            after_eval_iteration
        after_eval_exp
    after_eval
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import make_generator, next_seed
from cltutor.callbacks import CALLBACKS, SupervisedPlugin
from cltutor.data import Experience
from cltutor.evaluation import EvaluationPlugin
from cltutor.memory import BatchLoader
from cltutor.models import adapt_model, add_new_parameters, model_output
from cltutor.strategies.arguments import (
    as_experiences,
    check_criterion,
    check_loop_sizes,
    check_model_and_optimizer,
    check_plugins,
    first_forward,
    make_evaluator,
    resolve_device,
    train_inputs,
    trained_tasks,
    warn_if_diverged,
    warn_if_nothing_evaluated,
)
from cltutor.strategies.clock import (
    Clock,
    PeriodicEval,
    after_fault,
    model_modes,
    restore_modes,
    seed_global_rng,
    seeded_global_rng,
)

__all__ = ["Naive", "Clock", "as_experiences"]


class Naive:
    """Plain fine-tuning on each experience: the baseline that forgets.

    Parameters
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
        Built on ``model.parameters()``.
    criterion : callable, default ``nn.CrossEntropyLoss()``
    train_mb_size : int, default 1
    train_epochs : int, default 1
    eval_mb_size : int, optional
        Defaults to ``train_mb_size``.
    device : str or torch.device, default "auto"
        "auto" picks CUDA when available, else the CPU.
    plugins : list of SupervisedPlugin, optional
    evaluator : EvaluationPlugin, "default" or None
        "default" tracks accuracy and loss with progress bars; None tracks nothing.
    eval_every : int, default -1
        -1: no evaluation inside ``train()``; 0: after each experience;
        k > 0: every k epochs (and at the end of each experience).
    seed : int, optional
        Seeds the shuffling of minibatches, and torch's global generators inside each
        ``train()`` (dropout, lazily built weights), which are put back as they were
        after it: ``seed=`` alone reproduces a run. None: torch's global generator.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                  train_mb_size=32, evaluator=None, device="cpu")
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> _ = strategy.eval(bm.test_stream)

    Notebook ``01_quickstart.ipynb`` runs this loop; ``02_forgetting.ipynb`` shows what it forgets.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: Any = None,
        train_mb_size: int = 1,
        train_epochs: int = 1,
        eval_mb_size: int | None = None,
        device: str | torch.device = "auto",
        plugins: Sequence[SupervisedPlugin] | None = None,
        evaluator: EvaluationPlugin | str | None = "default",
        eval_every: int = -1,
        seed: int | None = None,
    ) -> None:
        criterion = check_criterion(criterion)  # None: nn.CrossEntropyLoss()
        check_model_and_optimizer(model, optimizer, criterion)
        check_loop_sizes(train_mb_size, train_epochs, eval_mb_size, eval_every)
        self.model = model
        self.optimizer = optimizer
        self._criterion = criterion
        self.train_mb_size = train_mb_size
        self.train_epochs = train_epochs
        self.eval_mb_size = eval_mb_size if eval_mb_size is not None else train_mb_size
        self.device = resolve_device(device)
        self.eval_every = eval_every
        self.seed = seed
        self._rng = make_generator(seed)
        self.plugins = check_plugins(plugins)
        self.evaluator = make_evaluator(evaluator)
        self.evaluator.attach(self)  # re-used from another strategy: it starts clean
        self.clock = Clock()
        self._warned_diverged = False  # warn_if_diverged speaks once per strategy
        self.model.to(self.device)
        self._reset_state()

    # -- dispatch ----------------------------------------------------------------
    def _all_plugins(self) -> list[SupervisedPlugin]:
        """User plugins, the evaluator and its loggers, the periodic eval, the clock last."""
        extra = [PeriodicEval(self.eval_every)] if self.eval_every > -1 else []
        return [*self.plugins, self.evaluator, *self.evaluator.loggers, *extra, self.clock]

    def _build_dispatch(self) -> None:
        """One list of bound callbacks per event: only plugins that override it."""
        plugins = self._all_plugins()
        check_plugins(self.plugins)  # the list may have changed since construction
        self._dispatch = {name: [] for name in CALLBACKS}
        for p in plugins:
            for name in p.overridden_callbacks():
                self._dispatch[name].append(getattr(p, name))

    def _fire(self, event: str, **kwargs: Any) -> None:
        for callback in self._dispatch[event]:
            callback(self, **kwargs)

    def _reset_state(self) -> None:
        self.experience = None
        self.adapted_dataset = None
        self.dataloader = None
        self.mbatch = None
        self.mb_output = None
        self.loss = None
        self.is_training = False
        self.current_eval_stream = None
        self._stop_training = False
        self._checked = False

    # -- minibatch views ---------------------------------------------------------
    @property
    def mb_x(self) -> Tensor:
        """Inputs of the current minibatch, shape ``(B, ...)``."""
        return self.mbatch[0]

    @property
    def mb_y(self) -> Tensor:
        """Class labels of the current minibatch, shape ``(B,)``."""
        return self.mbatch[1]

    @property
    def mb_task_id(self) -> Tensor:
        """Task labels of the current minibatch, shape ``(B,)``."""
        return self.mbatch[-1]

    @property
    def is_eval(self) -> bool:
        return not self.is_training

    # -- training ----------------------------------------------------------------
    def train(
        self,
        experiences: Experience | Iterable[Experience],
        eval_streams: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, float]:
        """Train on one experience or a list of them, in order; return the last metrics.

        Each experience's first minibatch is checked against the model before any update
        (:func:`~cltutor.strategies.arguments.first_forward`).
        """
        experiences, self._eval_streams = train_inputs(experiences, eval_streams, self.eval_every)
        with seeded_global_rng(self._next_seed(), self.device):  # weights, dropout
            self._setup_model(experiences[0])
            modes = model_modes(self.model)
            self._build_dispatch()
            self.is_training = True
            self.model.train()
            self.model.to(self.device)
            try:
                self._fire("before_training", **kwargs)
                for i, self.experience in enumerate(experiences):
                    if i:  # as if train() were called again: train(stream) == train(exp) x n
                        seed_global_rng(self._next_seed(), self.device)
                    self._train_exp(**kwargs)
                self._fire("after_training", **kwargs)
            except BaseException as error:  # KeyboardInterrupt too: close bars, put modes back
                after_fault(self._all_plugins(), self, error, modes)
                self._reset_state()
                raise
        self._reset_state()
        return self.evaluator.get_last_metrics()

    def _setup_model(self, experience: Experience) -> None:
        """Before training starts, inside the seeded generators: nothing here (AR1 builds
        its network from the first experience)."""

    def _train_exp(self, **kwargs: Any) -> None:
        self._checked = False  # the first minibatch goes through first_forward
        self._fire("before_train_dataset_adaptation", **kwargs)
        self.train_dataset_adaptation()
        self._fire("after_train_dataset_adaptation", **kwargs)
        self.model_adaptation()
        self.make_train_dataloader(**kwargs)
        self._fire("before_training_exp", **kwargs)
        for _ in range(self.train_epochs):
            self._fire("before_training_epoch", **kwargs)
            if self._stop_training:
                self._stop_training = False
                break
            self.training_epoch(**kwargs)
            warn_if_diverged(self)
            self._fire("after_training_epoch", **kwargs)
        self._fire("after_training_exp", **kwargs)

    def training_epoch(self, **kwargs: Any) -> None:
        """One pass over ``self.dataloader``: the SGD loop, callbacks in between."""
        for mbatch in self.dataloader:
            if self._stop_training:
                break
            self.mbatch = mbatch
            self._unpack_minibatch()
            self._fire("before_training_iteration")
            self.optimizer.zero_grad(set_to_none=True)
            self._fire("before_forward")
            self.mb_output = self.forward() if self._checked else self._first_forward()
            self._fire("after_forward")
            self.loss = self.criterion()
            self._fire("before_backward")  # a plugin may add a penalty to self.loss here
            self.loss.backward()
            self._fire("after_backward")
            self._fire("before_update")
            self.optimizer.step()
            self._fire("after_update")
            self._fire("after_training_iteration")

    def train_dataset_adaptation(self) -> None:
        """The dataset to train on: the experience's data, moved once to the device."""
        dataset = self.experience.dataset
        self.adapted_dataset = dataset.to(self.device) if hasattr(dataset, "to") else dataset

    def model_adaptation(self) -> None:
        """Before each training experience: multi-head models add heads for its new tasks
        (on the model's device), and the optimizer gets their parameters as a new group."""
        adapt_model(self.model, self.experience)
        if add_new_parameters(self.optimizer, self.model):
            self.model.to(self.device)

    def eval_dataset_adaptation(self) -> None:
        """The same move to the device: Naive's own, not an override's (Cumulative's
        would add the test data to its training set)."""
        Naive.train_dataset_adaptation(self)

    def make_train_dataloader(self, shuffle: bool = True, **kwargs: Any) -> None:
        """Shuffled minibatches of ``train_mb_size`` (plugins may replace the loader)."""
        self.dataloader = BatchLoader(
            self.adapted_dataset, self.train_mb_size, shuffle=shuffle, seed=self._next_seed()
        )

    def _next_seed(self) -> int | None:
        """A fresh seed from the strategy's generator, or None to use torch's global one."""
        return None if self._rng is None else next_seed(self._rng)

    def _unpack_minibatch(self) -> None:
        self.mbatch = [item.to(self.device, non_blocking=True) for item in self.mbatch]

    def forward(self) -> Tensor:
        """The model's output on the current minibatch, ``(B, n_classes)``; a
        ``MultiTaskModule`` also gets ``mb_task_id``, so each row uses its task's head."""
        return model_output(self.model, self.mb_x, self.mb_task_id)

    def _first_forward(self) -> Tensor:
        """``forward()``, and a check that the data fits the model (labels, shape, dtype)."""
        output, self._checked = first_forward(self), True
        return output

    def criterion(self) -> Tensor:
        """The loss of the current minibatch."""
        return self._criterion(self.mb_output, self.mb_y)

    def stop_training(self) -> None:
        """Ask the loop to stop after the current iteration (early stopping)."""
        self._stop_training = True

    # -- evaluation --------------------------------------------------------------
    @torch.no_grad()
    def eval(self, experiences: Experience | Iterable[Experience], **kwargs: Any) -> dict:
        """Evaluate on one experience or a stream; return the last metrics.

        A multi-head model is evaluated only on the tasks it has been trained on: the
        others have no head yet, and their cells of the accuracy matrix stay unmeasured
        (NaN), as for a model that has not seen them.
        """
        experiences = as_experiences(experiences, "experiences")
        if not self.is_training:  # a periodic eval() before a task is trained is expected
            warn_if_nothing_evaluated(self.model, experiences)
        saved = self._save_train_state()
        self._build_dispatch()
        self.is_training = False
        self.model.eval()
        self.current_eval_stream = experiences[0].origin_stream
        try:
            self._fire("before_eval", **kwargs)
            for self.experience in experiences:
                if trained_tasks(self.model, self.experience):  # else no head to test yet
                    self._eval_exp(**kwargs)
            self._fire("after_eval", **kwargs)
        except BaseException as error:  # KeyboardInterrupt too: close bars, put modes back
            after_fault(self._all_plugins(), self, error, saved["_modes"])
            raise
        finally:
            self._restore_train_state(saved)
        return self.evaluator.get_last_metrics()

    def _eval_exp(self, **kwargs: Any) -> None:
        self._fire("before_eval_dataset_adaptation", **kwargs)
        self.eval_dataset_adaptation()
        self._fire("after_eval_dataset_adaptation", **kwargs)
        self.dataloader = BatchLoader(self.adapted_dataset, self.eval_mb_size, shuffle=False)
        self._fire("before_eval_exp", **kwargs)
        for mbatch in self.dataloader:
            self.mbatch = mbatch
            self._unpack_minibatch()
            self._fire("before_eval_iteration")
            self._fire("before_eval_forward")
            self.mb_output = self.forward()
            self._fire("after_eval_forward")
            self.loss = self.criterion()
            self._fire("after_eval_iteration")
        self._fire("after_eval_exp", **kwargs)

    def _periodic_eval(self) -> None:
        for stream in self._eval_streams:
            self.eval(stream)

    _TRAIN_STATE = ("experience", "adapted_dataset", "dataloader", "mbatch", "mb_output",
                    "loss", "is_training", "current_eval_stream")

    def _save_train_state(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self._TRAIN_STATE}
        state["_modes"] = model_modes(self.model)
        state["_dispatch"] = getattr(self, "_dispatch", None)
        return state

    def _restore_train_state(self, state: dict[str, Any]) -> None:
        restore_modes(state.pop("_modes"))
        dispatch = state.pop("_dispatch")
        if dispatch is not None:
            self._dispatch = dispatch
        for name, value in state.items():
            setattr(self, name, value)

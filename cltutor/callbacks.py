"""The plugin interface: one no-op method per event of the training and eval loops.

It lives in its own module (not in ``strategies/base.py``) so that modules below
the strategies, such as :mod:`cltutor.evaluation`, can define plugins without
importing a strategy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SupervisedPlugin", "CALLBACKS", "TRAIN_CALLBACKS", "EVAL_CALLBACKS"]

#: Training events in the order a strategy fires them for one experience.
TRAIN_CALLBACKS: tuple[str, ...] = (
    "before_training",
    "before_train_dataset_adaptation",
    "after_train_dataset_adaptation",
    "before_training_exp",
    "before_training_epoch",
    "before_training_iteration",
    "before_forward",
    "after_forward",
    "before_backward",
    "after_backward",
    "before_update",
    "after_update",
    "after_training_iteration",
    "after_training_epoch",
    "after_training_exp",
    "after_training",
)

#: Evaluation events.
EVAL_CALLBACKS: tuple[str, ...] = (
    "before_eval",
    "before_eval_dataset_adaptation",
    "after_eval_dataset_adaptation",
    "before_eval_exp",
    "before_eval_iteration",
    "before_eval_forward",
    "after_eval_forward",
    "after_eval_iteration",
    "after_eval_exp",
    "after_eval",
)

CALLBACKS: tuple[str, ...] = TRAIN_CALLBACKS + EVAL_CALLBACKS


class SupervisedPlugin:
    """Base class of plugins: override the callbacks you need, leave the rest.

    Every callback takes the strategy and keyword arguments and returns nothing.
    It reads (and may change) the strategy's state: ``experience``,
    ``adapted_dataset``, ``dataloader``, ``mbatch``, ``mb_x``, ``mb_y``,
    ``mb_task_id``, ``mb_output``, ``loss``, ``model``, ``optimizer``, ``clock``,
    ``is_training``, ``train_mb_size``, ``eval_mb_size`` and ``device``.
    The strategy calls only the callbacks a plugin overrides.

    Examples
    --------
    >>> class CountUpdates(SupervisedPlugin):
    ...     def __init__(self):
    ...         self.n = 0
    ...     def after_update(self, strategy, **kwargs):
    ...         self.n += 1
    >>> sorted(CountUpdates().overridden_callbacks())
    ['after_update']

    Notebook ``05_replay.ipynb`` writes a replay plugin from scratch.
    """

    def overridden_callbacks(self) -> list[str]:
        """Names of the callbacks this plugin's class overrides."""
        return [
            name for name in CALLBACKS
            if getattr(type(self), name) is not getattr(SupervisedPlugin, name)
        ]

    # -- the callbacks, in firing order; each does nothing here ----------
    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        """Start of ``train()``, before the first experience."""

    def before_train_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """A new experience: before ``adapted_dataset`` is made from it."""

    def after_train_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """``adapted_dataset`` is ready; the dataloader is built next."""

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """The dataloader is built; replay swaps it here. Then the epochs run."""

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        """Start of an epoch."""

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """A minibatch is unpacked into ``mb_x``, ``mb_y``, ``mb_task_id``."""

    def before_forward(self, strategy: Any, **kwargs: Any) -> None:
        """Before ``mb_output = model(mb_x)``."""

    def after_forward(self, strategy: Any, **kwargs: Any) -> None:
        """After the forward pass; ``mb_output`` is set."""

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        """``loss`` is computed, gradients are not."""

    def after_backward(self, strategy: Any, **kwargs: Any) -> None:
        """Gradients are in ``p.grad`` (A-GEM projects them here)."""

    def before_update(self, strategy: Any, **kwargs: Any) -> None:
        """Just before ``optimizer.step()``."""

    def after_update(self, strategy: Any, **kwargs: Any) -> None:
        """Just after ``optimizer.step()``."""

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """End of one minibatch."""

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        """End of an epoch."""

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """End of one training experience (buffers are updated here)."""

    def after_training(self, strategy: Any, **kwargs: Any) -> None:
        """End of ``train()``."""

    def before_eval(self, strategy: Any, **kwargs: Any) -> None:
        """Start of ``eval()``."""

    def before_eval_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """Before ``adapted_dataset`` is made for evaluation."""

    def after_eval_dataset_adaptation(self, strategy: Any, **kwargs: Any) -> None:
        """After the evaluation dataset is ready."""

    def before_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Start of the evaluation of one experience."""

    def before_eval_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """An eval minibatch is unpacked."""

    def before_eval_forward(self, strategy: Any, **kwargs: Any) -> None:
        """Before the eval forward pass."""

    def after_eval_forward(self, strategy: Any, **kwargs: Any) -> None:
        """After the eval forward pass; ``mb_output`` is set."""

    def after_eval_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """End of one eval minibatch (``loss`` is set)."""

    def after_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        """End of the evaluation of one experience."""

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        """End of ``eval()``."""

    # -- not an event of the loop: the clean-up after a fault ----------------------
    def on_exception(self, strategy: Any, exception: BaseException) -> None:
        """An exception or KeyboardInterrupt stopped ``train()`` or ``eval()``.

        Close what the plugin opened (a progress bar, a file); the strategy then puts
        the model's modes back and re-raises ``exception``. Called for every plugin,
        possibly more than once for one fault (a nested ``eval()`` cleans up first).
        """

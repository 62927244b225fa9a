"""Evaluation: the accuracy matrix, the metrics derived from it, and loggers.

:class:`EvaluationPlugin` watches training and evaluation through the plugin
callbacks. Every evaluation of a test experience writes one cell of the
accuracy matrix ``A[t, k]`` (row ``t``: the last experience trained, read from
``strategy.experience.current_experience`` at ``before_training_exp``; column
``k``: the evaluated experience). Evaluations before any training go to a
separate "init" row. Rows follow experiences, not ``train()`` calls, so one
``train(whole_stream, eval_streams=[test_stream])`` with ``eval_every=0`` fills
the same matrix as a loop over experiences. One matrix is kept per evaluated
stream name; :attr:`EvaluationPlugin.accuracy_matrix` is the "test" stream's.

Metric names follow Avalanche, e.g. ``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001``.
Two departures: a stream-level name leaves the task part out when the stream
mixes task labels (Avalanche writes the last experience's), and forgetting,
BWT and forward transfer are emitted only where defined (Avalanche emits 0).
Training metrics keep counts and loss sums on the device and synchronise with
the host once per epoch. Loggers receive every emitted value as it happens; the
strategy dispatches their callbacks itself, right after the evaluator's.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cltutor.callbacks import CALLBACKS, SupervisedPlugin
from cltutor.evaluation.loggers import BaseLogger, InteractiveLogger, TextLogger
from cltutor.evaluation.metric_names import (
    Metric,
    accuracy_metrics,
    bwt_metrics,
    forgetting_metrics,
    forward_transfer_metrics,
    loss_metrics,
    metric_scope,
    name_task_label,
)
from cltutor.evaluation.metrics import forgetting, forward_transfer
from cltutor.evaluation.tally import StreamTotals, Tally

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Metric", "accuracy_metrics", "loss_metrics", "forgetting_metrics", "bwt_metrics",
    "forward_transfer_metrics", "EvaluationPlugin", "default_evaluator",
    "BaseLogger", "TextLogger", "InteractiveLogger",
]


@dataclass
class _Cell:
    """One evaluation of one experience: a cell of the accuracy matrix."""

    accuracy: float
    loss: float
    n_samples: int
    iteration: int


class EvaluationPlugin(SupervisedPlugin):
    """Computes metrics, fills the accuracy matrix and feeds loggers.

    Parameters
    ----------
    *metrics : Metric or list of Metric
        From :func:`accuracy_metrics`, :func:`loss_metrics`,
        :func:`forgetting_metrics`, :func:`bwt_metrics`, :func:`forward_transfer_metrics`.
    loggers : list of BaseLogger, optional
        Each gets :meth:`BaseLogger.log_metrics` whenever values are emitted. The
        strategy calls the callbacks a logger overrides right after the evaluator's
        own, so a logger always reads metrics already updated for that event.

    The accuracy matrix is recorded whatever the metrics; with no metrics and
    no loggers, nothing runs per training iteration.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP, SplitDigits
    >>> from cltutor.strategies import Naive
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> evaluator = EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
    ...                              forgetting_metrics(stream=True))
    >>> model = SimpleMLP(num_classes=10, input_size=64)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1),
    ...                  train_mb_size=32, evaluator=evaluator, device="cpu")
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    ...     results = strategy.eval(bm.test_stream)
    >>> evaluator.accuracy_matrix.shape
    (5, 5)
    >>> "StreamForgetting/eval_phase/test_stream" in results
    True

    Notebook ``02_forgetting.ipynb`` reads the accuracy matrix and its metrics.
    """

    _MATRIX_CALLBACKS = ("before_training_exp", "before_eval", "before_eval_exp",
                         "after_eval_iteration", "after_eval_exp", "after_eval")
    _TRAIN_CALLBACKS = ("before_training_epoch", "after_training_iteration",
                        "after_training_epoch")

    def __init__(self, *metrics: Metric | Sequence[Metric],
                 loggers: BaseLogger | Sequence[BaseLogger] | None = None) -> None:
        self.metrics = self._check_metrics(metrics)
        self.loggers = self._check_loggers(loggers)
        # (kind, level) -> head of the metric's name, for every metric tracked
        self._heads = {(m.kind, m.level): str(m) for m in self.metrics}
        levels = {level for _, level in self._heads}
        self._per_minibatch, self._per_epoch = "minibatch" in levels, "epoch" in levels
        self._active_callbacks = self._needed_callbacks()
        self._strategy: weakref.ref | None = None  # the strategy it belongs to
        self._clear()
        for lg in self.loggers:
            lg.attach(self)  # a logger from another evaluator resets itself there

    def reset(self) -> None:
        """Forget everything recorded (accuracy matrix, histories, last values), and reset
        the loggers. Done by itself when a second strategy is given this evaluator."""
        self._clear()
        for lg in self.loggers:
            lg.reset()

    def _clear(self) -> None:
        self._cells: dict[str, dict[tuple[int, int], _Cell]] = defaultdict(dict)
        # name -> (training iterations at emission, values)
        self._history: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        self._last_values: dict[str, float] = {}
        self._trained_exp: int | None = None  # current_experience of the last trained exp
        self._train_scope = ""
        self._train_tally, self._eval_tally = Tally(), Tally()
        self._stream_totals: dict[str, StreamTotals] = {}  # this eval(), by stream name

    def attach(self, strategy: Any) -> None:
        """Belong to ``strategy`` (its constructor calls this). An evaluator re-used from an
        earlier run, say a notebook cell run again, starts clean instead of mixing runs."""
        if self._strategy is not None and self._strategy() is not strategy:
            self.reset()
        self._strategy = weakref.ref(strategy)

    @staticmethod
    def _check_metrics(metrics: tuple[Any, ...]) -> list[Metric]:
        flat = [m for group in metrics
                for m in (group if isinstance(group, (list, tuple)) else [group])]
        for m in flat:
            if not isinstance(m, Metric):
                raise TypeError(
                    f"metrics must come from accuracy_metrics(), loss_metrics(), "
                    f"forgetting_metrics(), bwt_metrics() or forward_transfer_metrics(), got "
                    f"{m!r}. Example: EvaluationPlugin(accuracy_metrics(experience=True))."
                )
        return list(dict.fromkeys(flat))  # drop duplicates, keep order

    @staticmethod
    def _check_loggers(loggers: Any) -> list[BaseLogger]:
        loggers = [] if loggers is None else loggers
        loggers = [loggers] if isinstance(loggers, BaseLogger) else list(loggers)
        for lg in loggers:
            if not isinstance(lg, BaseLogger):
                raise TypeError(
                    f"loggers must be BaseLogger instances, got {type(lg).__name__}. "
                    "Use loggers=[InteractiveLogger()] or subclass cltutor.BaseLogger."
                )
        return loggers

    def _needed_callbacks(self) -> list[str]:
        needed = set(self._MATRIX_CALLBACKS)
        if self._per_minibatch or self._per_epoch:
            needed.update(self._TRAIN_CALLBACKS)
        if self._wants_kind("forward_transfer"):
            needed.add("before_training")
        needed.update(n for n in CALLBACKS  # callbacks a subclass overrides itself
                      if getattr(type(self), n) is not getattr(EvaluationPlugin, n))
        return [name for name in CALLBACKS if name in needed]

    def overridden_callbacks(self) -> list[str]:
        """Only the callbacks its metrics need, so the rest cost nothing (loggers: their own)."""
        return list(self._active_callbacks)

    def _wants_kind(self, kind: str) -> bool:
        return any(k == kind for k, _ in self._heads)

    # -- results ---------------------------------------------------------------
    def get_last_metrics(self) -> dict[str, float]:
        """The last value of every metric emitted so far (a copy)."""
        return dict(self._last_values)

    def get_all_metrics(self) -> dict[str, tuple[list[int], list[float]]]:
        """``name -> (training iterations at emission, values)`` for every metric."""
        return {name: (list(xs), list(vs)) for name, (xs, vs) in self._history.items()}

    def reset_last_metrics(self) -> None:
        self._last_values = {}

    @property
    def evaluated_streams(self) -> list[str]:
        """Names of the streams with an accuracy matrix, in the order first evaluated."""
        return list(self._cells)

    def _stream_cells(self, stream: str | None) -> dict[tuple[int, int], _Cell]:
        if stream is None:
            stream = "test" if "test" in self._cells or not self._cells else next(iter(self._cells))
        if stream not in self._cells and self._cells:
            raise ValueError(
                f"stream must be one of the evaluated streams {self.evaluated_streams}, got "
                f"{stream!r}. Evaluate it first with strategy.eval(benchmark.{stream}_stream)."
            )
        return self._cells.get(stream, {})

    def get_accuracy_matrix(self, stream: str | None = None) -> np.ndarray:
        """``A[t, k]``: accuracy on experience ``k`` after training ``t``; NaN if not measured.

        Square, sized by the largest experience id trained or evaluated so far.
        ``stream`` defaults to "test" (or the first stream evaluated).
        """
        cells = self._stream_cells(stream)
        n = 1 + max((max(r, c) for r, c in cells), default=-1)
        A = np.full((n, n), np.nan)
        for (r, c), cell in cells.items():
            if r >= 0:
                A[r, c] = cell.accuracy
        return A

    def get_init_accuracy(self, stream: str | None = None) -> np.ndarray:
        """Accuracy of each experience before any training (NaN if not measured)."""
        cells = self._stream_cells(stream)
        init = np.full(len(self.get_accuracy_matrix(stream)), np.nan)
        for (r, c), cell in cells.items():
            if r < 0:
                init[c] = cell.accuracy
        return init

    @property
    def accuracy_matrix(self) -> np.ndarray:
        """The accuracy matrix of the "test" stream (see :meth:`get_accuracy_matrix`)."""
        return self.get_accuracy_matrix()

    @property
    def init_accuracy(self) -> np.ndarray:
        """The "init" row: the "test" stream's accuracies before any training."""
        return self.get_init_accuracy()

    def to_dataframe(self) -> pd.DataFrame:
        """Every matrix cell as a tidy DataFrame.

        Columns: ``stream``, ``trained_exp`` (-1: before any training),
        ``eval_exp``, ``accuracy``, ``loss``, ``n_samples``, ``iteration``.
        """
        import pandas as pd  # imported here: pandas is slow to import and only this needs it

        rows = [dict(stream=s, trained_exp=r, eval_exp=c, accuracy=cell.accuracy,
                     loss=cell.loss, n_samples=cell.n_samples, iteration=cell.iteration)
                for s, cells in self._cells.items() for (r, c), cell in sorted(cells.items())]
        columns = ["stream", "trained_exp", "eval_exp", "accuracy", "loss", "n_samples",
                   "iteration"]
        return pd.DataFrame(rows, columns=columns)

    # -- emitting ----------------------------------------------------------------
    def _emit(self, strategy: Any, values: dict[str, float]) -> None:
        if not values:
            return
        iteration = strategy.clock.train_iterations
        for name, value in values.items():
            emitted_at, emitted = self._history[name]
            emitted_at.append(iteration)
            emitted.append(value)
        self._last_values.update(values)
        for lg in self.loggers:
            lg.log_metrics(strategy, values)

    def _accuracy_and_loss(self, level: str, scope: str, accuracy: float,
                           loss: float) -> dict[str, float]:
        """The accuracy and loss values of ``scope`` that the metrics ask for at ``level``."""
        values = {}
        if ("accuracy", level) in self._heads:
            values[f"{self._heads['accuracy', level]}/{scope}"] = accuracy
        if ("loss", level) in self._heads:
            values[f"{self._heads['loss', level]}/{scope}"] = loss
        return values

    # -- training callbacks ------------------------------------------------------
    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        no_init = not any(r < 0 for cells in self._cells.values() for r, _ in cells)
        if self._wants_kind("forward_transfer") and no_init and strategy.eval_every < 0:
            raise ValueError(
                "forward_transfer_metrics needs the accuracy of the untrained model, but "
                "eval_every=-1 and nothing was evaluated yet. Call strategy.eval(test_stream) "
                "before the first train(), or use eval_every=0 with eval_streams=[test_stream]."
            )

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        exp = strategy.experience
        self._trained_exp = int(exp.current_experience)
        self._train_scope = metric_scope("train", exp.stream_name or "train", name_task_label(exp))

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self._train_tally = Tally()

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        if self._per_epoch:
            self._train_tally.add(strategy.mb_output, strategy.mb_y, strategy.loss)
        if self._per_minibatch:
            tally = Tally()
            tally.add(strategy.mb_output, strategy.mb_y, strategy.loss)
            correct, loss_sum, n = tally.totals()  # a host sync each iteration: MB metrics cost
            self._emit(strategy, self._accuracy_and_loss("minibatch", self._train_scope,
                                                         correct / n, loss_sum / n))

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        correct, loss_sum, n = self._train_tally.totals()
        self._train_tally = Tally()
        if n:
            self._emit(strategy, self._accuracy_and_loss("epoch", self._train_scope, correct / n,
                                                         loss_sum / n))

    # -- eval callbacks ------------------------------------------------------------
    def before_eval(self, strategy: Any, **kwargs: Any) -> None:
        self._stream_totals = {}

    def before_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        self._eval_tally = Tally()

    def after_eval_iteration(self, strategy: Any, **kwargs: Any) -> None:
        self._eval_tally.add(strategy.mb_output, strategy.mb_y, strategy.loss)

    def after_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Write the matrix cell (row: the last trained experience, -1 before any)."""
        exp = strategy.experience
        correct, loss_sum, n = self._eval_tally.totals()
        self._eval_tally = Tally()
        if not n:
            return
        stream, task = exp.stream_name or "test", name_task_label(exp)
        k = int(exp.current_experience)
        row = -1 if self._trained_exp is None else self._trained_exp
        cell = _Cell(correct / n, loss_sum / n, n, strategy.clock.train_iterations)
        self._cells[stream][row, k] = cell
        self._stream_totals.setdefault(stream, StreamTotals()).add(correct, loss_sum, n, task, k)
        scope = metric_scope("eval", stream, task, k)
        values = self._accuracy_and_loss("experience", scope, cell.accuracy, cell.loss)
        values.update(self._matrix_metrics(stream, "experience", [k], scope))
        self._emit(strategy, values)

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        values: dict[str, float] = {}
        for stream, totals in self._stream_totals.items():
            n = totals.n_samples
            values.update(self._accuracy_and_loss(
                "stream", metric_scope("eval", stream, totals.task_label), totals.correct / n,
                totals.loss_sum / n))
            values.update(self._matrix_metrics(stream, "stream", totals.experiences,
                                               metric_scope("eval", stream)))
        self._stream_totals = {}
        self._emit(strategy, values)

    def _matrix_metrics(self, stream: str, level: str, ks: list[int],
                        scope: str) -> dict[str, float]:
        """Forgetting, BWT and forward transfer of experiences ``ks``, read off the matrix."""
        kinds = [kind for kind in ("forgetting", "bwt", "forward_transfer")
                 if (kind, level) in self._heads]
        t = self._trained_exp
        if not kinds or t is None:
            return {}
        A = self.get_accuracy_matrix(stream)
        f = np.full(len(A), np.nan)
        f[:t] = forgetting(A, t)  # defined for k < t only
        fwt = forward_transfer(A, self.get_init_accuracy(stream))
        per_kind = {"forgetting": f[ks], "bwt": -f[ks], "forward_transfer": fwt[ks]}
        values = {}
        for kind in kinds:
            v = per_kind[kind][np.isfinite(per_kind[kind])]
            if v.size:  # emitted only where defined (Avalanche emits 0 for an empty mean)
                values[f"{self._heads[kind, level]}/{scope}"] = float(v.mean())
        return values


def default_evaluator() -> EvaluationPlugin:
    """Accuracy and loss per epoch, per eval experience and per eval stream, with progress bars.

    What ``Naive(..., evaluator="default")`` uses, as Avalanche's default.
    """
    return EvaluationPlugin(
        accuracy_metrics(epoch=True, experience=True, stream=True),
        loss_metrics(epoch=True, experience=True, stream=True),
        loggers=[InteractiveLogger()],
    )

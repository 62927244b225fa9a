"""Loggers: where the values an :class:`~cltutor.evaluation.EvaluationPlugin` emits go.

A logger is a plugin that the evaluation plugin owns. It gets
:meth:`BaseLogger.log_metrics` each time metric values are emitted, and the
strategy calls the callbacks it overrides right after the evaluator's, so the
metrics of that event are up to date. So a live plot is just another logger:
override ``after_eval`` and redraw ``self.accuracy_matrix``.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from tqdm.auto import tqdm

from cltutor._checks import check_number
from cltutor.callbacks import SupervisedPlugin
from cltutor.evaluation.metric_names import parse_metric_name

__all__ = ["BaseLogger", "TextLogger", "InteractiveLogger", "CSVLogger", "TensorboardLogger"]


class BaseLogger(SupervisedPlugin):
    """Base class of loggers: override :meth:`log_metrics` and any callbacks.

    Attributes
    ----------
    evaluator : EvaluationPlugin or None
        The evaluation plugin this logger was given to (set by it).

    Examples
    --------
    >>> from cltutor.evaluation import EvaluationPlugin, accuracy_metrics
    >>> class Recorder(BaseLogger):
    ...     def __init__(self):
    ...         self.seen = []
    ...     def log_metrics(self, strategy, metrics):
    ...         self.seen.extend(metrics)
    >>> recorder = Recorder()
    >>> evaluator = EvaluationPlugin(accuracy_metrics(stream=True), loggers=[recorder])
    >>> recorder.evaluator is evaluator, recorder.accuracy_matrix.shape
    (True, (0, 0))

    Notebook ``08_playground.ipynb`` plots forgetting curves live from a logger.
    """

    evaluator: Any = None

    def attach(self, evaluator: Any) -> None:
        """Report to ``evaluator`` (its constructor calls this). A logger given to a second
        evaluator, say one re-used from an earlier notebook cell, starts clean."""
        if self.evaluator is not None and self.evaluator is not evaluator:
            self.reset()
        self.evaluator = evaluator

    def reset(self) -> None:
        """Forget what was logged so far (nothing here; subclasses clear their state)."""

    def log_metrics(self, strategy: Any, metrics: dict[str, float]) -> None:
        """Called with ``{name: value}`` whenever the evaluator emits values."""

    @property
    def accuracy_matrix(self) -> np.ndarray:
        """The evaluator's accuracy matrix so far (see ``EvaluationPlugin.accuracy_matrix``)."""
        if self.evaluator is None:
            raise RuntimeError(
                f"this {type(self).__name__} is not attached to an EvaluationPlugin yet; pass "
                "it as EvaluationPlugin(..., loggers=[logger]) first."
            )
        return self.evaluator.accuracy_matrix


class TextLogger(BaseLogger):
    """Writes every emitted metric as a plain ``name = value`` line.

    Values are collected and written at the end of each epoch, training
    experience, eval experience and eval stream, so minibatch metrics show
    their last value instead of flooding the output.

    Parameters
    ----------
    file : file object, optional
        Where to write; None (default) means ``sys.stdout`` at the time of
        writing, so notebooks and pytest capture it.

    Examples
    --------
    >>> import io
    >>> logger = TextLogger(io.StringIO())
    >>> logger.log_metrics(None, {"Top1_Acc_Stream/eval_phase/test_stream/Task000": 0.5})
    >>> logger.after_eval(None)
    >>> logger.file.getvalue()
    'Top1_Acc_Stream/eval_phase/test_stream/Task000 = 0.5000\\n'

    Notebook ``01_quickstart.ipynb`` shows the metrics it prints.
    """

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file
        self._pending: dict[str, float] = {}

    def log_metrics(self, strategy: Any, metrics: dict[str, float]) -> None:
        self._pending.update(metrics)

    def reset(self) -> None:
        self._pending = {}

    def _format(self, metrics: dict[str, float]) -> list[str]:
        return [f"{name} = {value:.4f}" for name, value in metrics.items()]

    def _write(self, line: str) -> None:
        print(line, file=self.file if self.file is not None else sys.stdout)

    def flush(self, prefix: str = "") -> None:
        """Write the values collected since the last flush, each line after ``prefix``."""
        pending, self._pending = self._pending, {}
        for line in self._format(pending):
            self._write(prefix + line)

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()

    def after_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()


def _n_batches(strategy: Any) -> int | None:
    try:
        return len(strategy.dataloader)
    except (AttributeError, TypeError):  # no loader, or one without a length
        return None


class InteractiveLogger(TextLogger):
    """Progress bars (``tqdm.auto``: widgets in Jupyter) and a compact line per result.

    One bar per training epoch and per evaluated experience; the metrics of
    each scope print on one line, e.g.
    ``eval_phase/test_stream/Task000/Exp001  Top1_Acc_Exp 0.9500  Loss_Exp 0.1700``
    (training lines start with the epoch, ``epoch 2/3  train_phase/...``).

    Parameters
    ----------
    file : file object, optional
        Where bars and lines go; None: bars to ``sys.stderr``, lines to ``sys.stdout``.
    mininterval : float, default 0.1
        Seconds between two bar refreshes.

    Examples
    --------
    >>> from cltutor.evaluation import EvaluationPlugin, accuracy_metrics
    >>> evaluator = EvaluationPlugin(accuracy_metrics(epoch=True),
    ...                              loggers=[InteractiveLogger()])

    Notebook ``01_quickstart.ipynb`` trains with it (it is in ``default_evaluator()``).
    """

    def __init__(self, file: TextIO | None = None, mininterval: float = 0.1) -> None:
        super().__init__(file)
        check_number("mininterval", mininterval, "Try mininterval=0.1 (seconds).", low=0)
        self.mininterval = float(mininterval)
        self._train_bar: tqdm | None = None
        self._eval_bar: tqdm | None = None

    def _format(self, metrics: dict[str, float]) -> list[str]:
        groups: dict[str, list[str]] = {}
        for name, value in metrics.items():
            head, _, scope = name.partition("/")
            groups.setdefault(scope, []).append(f"{head} {value:.4f}")
        return [f"{scope}  " + "  ".join(items) for scope, items in groups.items()]

    def _write(self, line: str) -> None:
        tqdm.write(line, file=self.file)  # clears and redraws any open bar around the line

    def _open_bar(self, strategy: Any, desc: str) -> tqdm:
        """A bar over the strategy's minibatches; tqdm redraws it at most every mininterval."""
        return tqdm(total=_n_batches(strategy), desc=desc, leave=False, file=self.file,
                    mininterval=self.mininterval)

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        exp = strategy.experience.current_experience
        epoch = strategy.clock.train_exp_epochs + 1
        desc = f"train exp {exp} epoch {epoch}/{strategy.train_epochs}"
        self._train_bar = self._open_bar(strategy, desc)

    def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        if self._train_bar is not None:  # None: attached in the middle of an epoch
            self._train_bar.update()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if self._train_bar is not None:
            self._train_bar.close()
            self._train_bar = None
        epoch = strategy.clock.train_exp_epochs + 1  # the clock counts it after the loggers
        self.flush(f"epoch {epoch}/{strategy.train_epochs}  ")

    def before_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        exp = strategy.experience
        desc = f"eval {exp.stream_name or 'eval'} exp {exp.current_experience}"
        self._eval_bar = self._open_bar(strategy, desc)

    def after_eval_iteration(self, strategy: Any, **kwargs: Any) -> None:
        if self._eval_bar is not None:  # None: attached in the middle of an evaluation
            self._eval_bar.update()

    def after_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        if self._eval_bar is not None:
            self._eval_bar.close()
            self._eval_bar = None
        self.flush()

    def on_exception(self, strategy: Any, exception: BaseException) -> None:
        """Close any open bar, so an interrupted run leaves none behind."""
        self.reset()

    def reset(self) -> None:
        for bar in (getattr(self, "_train_bar", None), getattr(self, "_eval_bar", None)):
            if bar is not None:
                bar.close()
        self._train_bar = self._eval_bar = None
        super().reset()


def _position(strategy: Any) -> tuple[int, int, int]:
    """(training iterations so far, training experiences finished, epochs of the current one)."""
    clock = getattr(strategy, "clock", None)
    if clock is None:
        return 0, 0, 0
    return clock.train_iterations, clock.train_exp_counter, clock.train_exp_epochs


class CSVLogger(BaseLogger):
    """Writes every emitted value as one row of a CSV file, as Avalanche's ``CSVLogger``
    does: ``training_results.csv`` for the training phase, ``eval_results.csv`` for the
    evaluations, both in ``log_folder``.

    Columns: ``iteration`` (training iterations so far), ``trained_exps`` (training
    experiences finished), ``epoch``, then the metric name's parts (``metric``, ``stream``,
    ``task``, ``exp``), ``value`` and the full ``name``. ``pandas.read_csv`` reads them back.

    Parameters
    ----------
    log_folder : path, default "csvlogs"
        Created if missing; files already there are overwritten.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> logger = CSVLogger(folder)
    >>> logger.log_metrics(None, {"Top1_Acc_Stream/eval_phase/test_stream/Task000": 0.5})
    >>> logger.close()
    >>> pd.read_csv(f"{folder}/eval_results.csv")[["metric", "stream", "value"]].values.tolist()
    [['Top1_Acc_Stream', 'test', 0.5]]
    """

    COLUMNS = ("iteration", "trained_exps", "epoch", "metric", "stream", "task", "exp", "value",
               "name")

    def __init__(self, log_folder: str | os.PathLike = "csvlogs") -> None:
        self.log_folder = Path(log_folder)
        self.log_folder.mkdir(parents=True, exist_ok=True)
        self._files = {phase: open(self.log_folder / f"{phase}_results.csv", "w", newline="")
                       for phase in ("training", "eval")}
        self._writers = {phase: csv.writer(f) for phase, f in self._files.items()}
        for writer in self._writers.values():
            writer.writerow(self.COLUMNS)

    def log_metrics(self, strategy: Any, metrics: dict[str, float]) -> None:
        iteration, trained, epoch = _position(strategy)
        for name, value in metrics.items():
            part = parse_metric_name(name)
            phase = "training" if part["phase"] == "train" else "eval"
            self._writers[phase].writerow([iteration, trained, epoch, part["metric"],
                                           part["stream"], part["task"], part["exp"],
                                           float(value), name])

    def flush(self) -> None:
        """Write what is buffered to disk (done after every epoch and evaluation)."""
        for f in self._files.values():
            if not f.closed:
                f.flush()

    def close(self) -> None:
        """Close both files; call it when the run is over."""
        for f in self._files.values():
            f.close()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        self.flush()


class TensorboardLogger(BaseLogger):
    """Writes every emitted value as a TensorBoard scalar, at the step of the training
    iterations so far (Avalanche's ``TensorboardLogger``). Needs the ``tensorboard`` package,
    imported only here: ``pip install tensorboard``. Then ``tensorboard --logdir tb_data``.

    Parameters
    ----------
    tb_log_dir : path, default "tb_data"
    filename_suffix : str, default ""

    Examples
    --------
    >>> import tempfile
    >>> logger = TensorboardLogger(tempfile.mkdtemp())  # doctest: +SKIP
    >>> logger.log_metrics(None, {"Top1_Acc_Stream/eval_phase/test_stream/Task000": 0.5})
    ... # doctest: +SKIP
    >>> logger.close()  # doctest: +SKIP
    """

    def __init__(self, tb_log_dir: str | os.PathLike = "tb_data",
                 filename_suffix: str = "") -> None:
        try:
            import tensorboard  # noqa: F401  (torch's writer needs it; say so by its name)
        except ImportError as err:
            raise ImportError("TensorboardLogger needs the tensorboard package, which is not "
                              "installed. Install it with: pip install tensorboard (or pip "
                              "install 'cltutor[tensorboard]').") from err
        from torch.utils.tensorboard import SummaryWriter

        self.tb_log_dir = Path(tb_log_dir)
        self.writer = SummaryWriter(str(self.tb_log_dir), filename_suffix=filename_suffix)

    def log_metrics(self, strategy: Any, metrics: dict[str, float]) -> None:
        iteration = _position(strategy)[0]
        for name, value in metrics.items():
            self.writer.add_scalar(name, float(value), global_step=iteration)

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()

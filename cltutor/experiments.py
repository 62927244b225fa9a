"""One experiment, start to finish: the function behind the command line and the playground.

The registry maps names to builders: :data:`BENCHMARKS` (``"split-digits"`` ->
:func:`~cltutor.data.SplitDigits`, ...), :func:`make_model` and :func:`make_strategy`.
``run_experiment`` builds a benchmark, a model and a strategy by name, runs the
usual loop (train on each experience, then evaluate on the whole test stream) and
returns the accuracy matrix with its summary metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from cltutor._checks import check_number
from cltutor.data import (
    Benchmark,
    PermutedDigits,
    PermutedMNIST,
    RotatedDigits,
    RotatedMNIST,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitDigits,
    SplitFashionMNIST,
    SplitMNIST,
    check_scenario,
)
from cltutor.evaluation import (
    EvaluationPlugin,
    InteractiveLogger,
    accuracy_metrics,
    average_accuracy,
    average_forgetting,
    backward_transfer,
)
from cltutor.memory import make_storage_policy
from cltutor.models import MTSimpleMLP, SimpleCNN, SimpleMLP
from cltutor.strategies import (
    AGEM,
    AR1,
    DER,
    EWC,
    Cumulative,
    GDumb,
    ICaRL,
    JointTraining,
    LwF,
    Naive,
    OnlineReplay,
    Replay,
    SynapticIntelligence,
)

__all__ = ["BENCHMARKS", "get_benchmark", "STRATEGIES", "DEFAULT_LR", "STRATEGY_OPTIONS",
           "check_strategy_options", "ExperimentResult", "make_model", "make_strategy",
           "run_experiment"]

#: Benchmark names accepted by :func:`get_benchmark` (the command line and the
#: playground), each mapped to the function that builds it.
BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    "split-digits": SplitDigits,
    "permuted-digits": PermutedDigits,
    "rotated-digits": RotatedDigits,
    "split-mnist": SplitMNIST,
    "permuted-mnist": PermutedMNIST,
    "rotated-mnist": RotatedMNIST,
    "split-fmnist": SplitFashionMNIST,
    "split-cifar10": SplitCIFAR10,
    "split-cifar100": SplitCIFAR100,
}


def get_benchmark(name: str, scenario: str | None = None, **kwargs: Any) -> Benchmark:
    """Build the benchmark registered under ``name`` with ``kwargs``, in ``scenario``.

    The split benchmarks take all three scenarios. The permuted and rotated ones are
    domain-incremental by nature (every experience has all the classes): "domain" is
    what they are, "task" adds task labels, "class" does not apply.

    Examples
    --------
    >>> get_benchmark("split-digits", n_experiences=2, seed=1).n_experiences
    2
    >>> get_benchmark("permuted-digits", scenario="task", n_experiences=2).scenario
    'task'
    """
    if name not in BENCHMARKS:
        raise ValueError(
            f"benchmark must be one of {list(BENCHMARKS)}, got {name!r}. "
            f"Try 'split-digits' (offline)."
        )
    if scenario is not None:
        check_scenario(scenario)
        if name.startswith("split-"):
            kwargs["scenario"] = scenario
        elif scenario == "class":
            raise ValueError(
                f"scenario='class' does not apply to {name}: every experience holds all the "
                f"classes, so there are no new classes to learn. It is domain-incremental: "
                f"use scenario='domain' (or 'task'), or a split benchmark such as split-digits."
            )
        elif scenario == "task":
            kwargs["return_task_id"] = True
    return BENCHMARKS[name](**kwargs)


STRATEGIES = ("naive", "replay", "agem", "ar1", "ewc", "si", "lwf", "cumulative", "joint",
              "gdumb", "der", "icarl", "online-replay")

#: Learning rates that learn every SplitDigits experience in a few epochs.
DEFAULT_LR = {"naive": 0.05, "replay": 0.05, "agem": 0.05, "ar1": 0.01, "ewc": 0.05,
              "si": 0.05, "lwf": 0.05, "cumulative": 0.05, "joint": 0.05, "gdumb": 0.05,
              "der": 0.05, "icarl": 0.05, "online-replay": 0.05}

#: The options each strategy takes on top of run_experiment's own parameters (a test checks
#: them against the constructors). ``mode`` and ``ewc_mode`` are the same option of EWC.
STRATEGY_OPTIONS: dict[str, tuple[str, ...]] = {
    "naive": (),
    "replay": ("mem_size", "storage_policy", "groupby", "selection", "layer_name"),
    "agem": ("patterns_per_experience", "sample_size"),
    "ar1": ("rm_sz", "ewc_lambda", "momentum", "l2", "init_update_rate", "inc_update_rate",
            "max_r_max", "max_d_max", "inc_step", "freeze_below_layer", "latent_layer_num",
            "inc_lr"),
    "ewc": ("ewc_lambda", "mode", "ewc_mode", "decay_factor", "keep_importance_data"),
    "si": ("si_lambda", "eps"),
    "lwf": ("alpha", "temperature"),
    "cumulative": (),
    "joint": (),
    "gdumb": ("mem_size",),
    "der": ("mem_size", "batch_size_mem", "alpha", "beta"),
    "icarl": ("mem_size", "memory_size", "fixed_memory"),
    "online-replay": ("mem_size", "batch_size_mem"),
}


def check_strategy_options(strategy: str, options: Mapping[str, Any],
                           name: str = "options") -> None:
    """Raise ValueError for an option that ``strategy`` does not take, naming those that do.

    >>> check_strategy_options("naive", {"mem_size": 100})
    Traceback (most recent call last):
    ...
    ValueError: options of strategy 'naive' must be among (), got 'mem_size'. Only replay, \
gdumb, der, icarl, online-replay take mem_size: drop it or pick one of those strategies.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    own = STRATEGY_OPTIONS[strategy]
    for option in options:
        if option in own:
            continue
        takers = [s for s, names in STRATEGY_OPTIONS.items() if option in names]
        fix = (f"Only {', '.join(takers)} take {option}: drop it or pick one of those "
               f"strategies." if takers else "No strategy takes it: check its spelling.")
        raise ValueError(f"{name} of strategy {strategy!r} must be among {own}, got "
                         f"{option!r}. {fix}")


#: Strategies that are Naive plus their own keyword options, by name.
_PLAIN = {"ewc": EWC, "si": SynapticIntelligence, "lwf": LwF, "cumulative": Cumulative,
          "joint": JointTraining, "gdumb": GDumb, "der": DER, "online-replay": OnlineReplay}


def make_model(benchmark: Benchmark, kind: str = "mlp") -> nn.Module:
    """A fresh ``SimpleMLP`` or ``SimpleCNN`` sized for the benchmark's inputs; for a
    task-incremental benchmark, ``MTSimpleMLP`` (one head of ``n_classes`` per task)."""
    x = benchmark.train_stream[0].dataset.x  # (N, C, H, W)
    if getattr(benchmark, "scenario", None) == "task":
        if kind != "mlp":
            raise ValueError(f"model must be 'mlp' for scenario='task' (MTSimpleMLP, one head "
                             f"per task), got {kind!r}; cltutor has no multi-head CNN.")
        return MTSimpleMLP(input_size=int(np.prod(x.shape[1:])), hidden_size=256,
                           drop_rate=0.0, initial_out_features=benchmark.n_classes)
    if kind == "mlp":
        return SimpleMLP(num_classes=benchmark.n_classes, input_size=int(np.prod(x.shape[1:])),
                         hidden_size=256, drop_rate=0.0)
    if kind == "cnn":
        return SimpleCNN(num_classes=benchmark.n_classes, in_channels=int(x.shape[1]))
    raise ValueError(f"model must be 'mlp' or 'cnn', got {kind!r}.")


def make_strategy(
    name: str,
    model: nn.Module | None,
    benchmark: Benchmark,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    device: str = "auto",
    seed: int | None = None,
    evaluator: EvaluationPlugin | None = None,
    eval_every: int = -1,
    **options: Any,
) -> Naive:
    """A strategy by name, one of :data:`STRATEGIES`.

    ``options`` are the strategy's own parameters (``mem_size``,
    ``storage_policy``, ``groupby``, ``selection`` for replay;
    ``patterns_per_experience``, ``sample_size`` for A-GEM; AR1's parameters;
    ``ewc_lambda``, ``mode``, ``decay_factor`` for EWC; ``si_lambda`` for SI; ``alpha``,
    ``temperature`` for LwF; ``mem_size`` for GDumb, DER (with ``alpha``, ``beta``), iCaRL
    (its ``memory_size``, with ``fixed_memory``) and online replay). Online replay is meant for
    ``epochs=1`` and a small ``batch_size`` (10).
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    check_number("lr", lr, f"Try lr={DEFAULT_LR[name]}.", low=0, low_open=True)
    common = dict(train_mb_size=batch_size, train_epochs=epochs, eval_mb_size=256,
                  device=device, evaluator=evaluator, seed=seed, eval_every=eval_every)
    if name == "ar1":
        return AR1(model=model, num_classes=benchmark.n_classes, lr=lr, **common, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    if name == "icarl":
        if getattr(benchmark, "scenario", None) == "task":
            raise ValueError("strategy 'icarl' is class-incremental (one nearest-mean classifier "
                             "over all classes); use scenario='class' with it.")
        if not (hasattr(model, "features") and hasattr(model, "classifier")):
            raise ValueError(f"strategy 'icarl' needs a model with .features and .classifier "
                             f"(SimpleMLP, SimpleCNN), got {type(model).__name__}.")
        options["memory_size"] = options.pop("mem_size", options.get("memory_size", 200))
        return ICaRL(model.features, model.classifier, optimizer, **options, **common)
    if name in _PLAIN:
        if "ewc_mode" in options:  # the command line's name for EWC's mode
            options["mode"] = options.pop("ewc_mode")
        return _PLAIN[name](model, optimizer, **options, **common)
    if name == "naive":
        if options:
            raise ValueError(f"naive takes no strategy options, got {sorted(options)}.")
        return Naive(model, optimizer, **common)
    if name == "replay":
        mem_size = options.pop("mem_size", 200)
        policy = make_storage_policy(options.pop("storage_policy", "experience"), mem_size,
                                     model=model, seed=seed, **options)
        return Replay(model, optimizer, mem_size=mem_size, storage_policy=policy, **common)
    options.setdefault("patterns_per_experience", 100)
    return AGEM(model, optimizer, **options, **common)


@dataclass
class ExperimentResult:
    """What one run produced: the accuracy matrix and how it was obtained.

    ``accuracy_matrix[t, k]`` is the test accuracy on experience ``k`` after
    training on experience ``t``. ``cl_strategy`` is the strategy object that ran, to look
    inside it afterwards (``result.cl_strategy.ewc_plugin.saved``, ``result.cl_strategy.model``).
    """

    strategy: str
    benchmark: str
    accuracy_matrix: np.ndarray
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    cl_strategy: Naive | None = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> dict[str, float]:
        A = self.accuracy_matrix
        return {
            "average_accuracy": float(average_accuracy(A)),
            "average_forgetting": float(average_forgetting(A)),
            "bwt": float(backward_transfer(A)),
        }

    def matrix_frame(self) -> pd.DataFrame:
        """The accuracy matrix as a table: rows 'after exp t', columns 'exp k'."""
        n_rows, n_cols = self.accuracy_matrix.shape
        return pd.DataFrame(
            self.accuracy_matrix,
            index=[f"after exp {t}" for t in range(n_rows)],
            columns=[f"exp {k}" for k in range(n_cols)],
        )

    def summary_frame(self) -> pd.DataFrame:
        row = {"strategy": self.strategy, "benchmark": self.benchmark, **self.summary,
               "seconds": self.seconds}
        return pd.DataFrame([row])

    def report(self) -> str:
        """The matrix and the summary as plain-text tables."""
        matrix = self.matrix_frame().to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")
        summary = "\n".join(f"{k:>20}: {_signed(v, k != 'average_accuracy')}"
                            for k, v in self.summary.items())
        head = f"{self.strategy} on {self.benchmark} ({self.seconds:.1f} s)"
        return f"{head}\n\naccuracy matrix (row: after training on, column: tested on; " \
               f"-: not measured)\n" \
               f"{matrix}\n\nsummary\n{summary}"


def _signed(value: float, sign: bool) -> str:
    """``+0.123`` (or ``0.123``), and "- (not measured)" for NaN (JointTraining's forgetting)."""
    if np.isnan(value):
        return "- (not measured)"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def run_experiment(
    benchmark: str | Benchmark = "split-digits",
    strategy: str = "naive",
    *,
    n_experiences: int = 5,
    scenario: str | None = None,
    model: str | nn.Module = "mlp",
    epochs: int = 3,
    lr: float | None = None,
    batch_size: int = 32,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    loggers: Sequence[Any] = (),
    eval_every: int = -1,
    **options: Any,
) -> ExperimentResult:
    """Train ``strategy`` on each experience of ``benchmark``, evaluating after each one.

    ``scenario`` ("class", "task" or "domain") is passed to a benchmark given by name
    (see :func:`get_benchmark`); "task" trains an ``MTSimpleMLP``, one head per task.
    With ``eval_every=k > 0`` the test stream is also evaluated every ``k``
    epochs during training, which gives live forgetting curves more points;
    the accuracy matrix still holds the evaluation at the end of each experience.

    Examples
    --------
    >>> result = run_experiment("split-digits", "naive", epochs=1, progress=False)
    >>> result.accuracy_matrix.shape
    (5, 5)
    """
    check_strategy_options(strategy, options)
    torch.manual_seed(seed)  # the model's initial weights
    bm = get_benchmark(benchmark, scenario, n_experiences=n_experiences, seed=seed) \
        if isinstance(benchmark, str) else benchmark
    if scenario is not None and bm.scenario != scenario:  # a Benchmark built elsewhere
        raise ValueError(f"scenario={scenario!r} but the benchmark given was built as "
                         f"scenario={bm.scenario!r}. Leave scenario out, or build the "
                         f"benchmark with scenario={scenario!r}.")
    if isinstance(model, str):
        model = None if strategy == "ar1" else make_model(bm, model)
    all_loggers = [*loggers, *([InteractiveLogger()] if progress else [])]
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
                                 loggers=all_loggers)
    cl = make_strategy(strategy, model, bm, lr=lr if lr is not None else DEFAULT_LR[strategy],
                       epochs=epochs, batch_size=batch_size, device=device, seed=seed,
                       evaluator=evaluator, eval_every=eval_every, **options)
    start = time.perf_counter()
    periodic = [bm.test_stream] if eval_every > -1 else None  # else Naive would warn
    for exp in [bm.train_stream] if strategy == "joint" else bm.train_stream:
        cl.train(exp, eval_streams=periodic)  # joint: once, on every experience together
        cl.eval(bm.test_stream)  # after after_training_exp: AR1's CWR* has consolidated
    seconds = time.perf_counter() - start
    config = dict(n_experiences=n_experiences, scenario=bm.scenario, epochs=epochs, lr=lr,
                  batch_size=batch_size, seed=seed, device=str(cl.device), **options)
    name = benchmark if isinstance(benchmark, str) else getattr(bm, "name", "benchmark")
    return ExperimentResult(strategy, name, evaluator.accuracy_matrix, seconds, config, cl)

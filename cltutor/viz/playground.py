"""The strategy playground: train a strategy with live forgetting curves, compare runs.

:class:`StrategyPlayground` is a thin ipywidgets shell over
:func:`~cltutor.experiments.run_experiment` (the function behind the command
line) and :func:`comparison_table`; its Run button calls :meth:`StrategyPlayground.run`,
which a test or a notebook may call directly.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import pandas as pd
from matplotlib.figure import Figure

from cltutor._checks import check_int_range
from cltutor.experiments import DEFAULT_LR, STRATEGIES, ExperimentResult, run_experiment
from cltutor.viz.compare import LiveComparison
from cltutor.viz.controls import (
    WIDE_LABEL,
    Panel,
    check_option,
    dropdown,
    guarded,
    int_slider,
    log_slider,
)
from cltutor.viz.live import FigureView, LivePlotLogger, in_kernel
from cltutor.viz.plots import plot_accuracy_matrix

__all__ = ["StrategyPlayground", "comparison_table", "comparison_notes", "model_name"]

REPLAY_POLICIES = ("experience", "class", "reservoir")


def _param_controls() -> dict[str, dict[str, W.ValueWidget]]:
    """Each strategy's own parameters, as controls (keyword -> widget)."""
    def mem_size() -> W.IntSlider:
        return int_slider("mem_size", 200, 20, 1000, 20)

    return {
        "naive": {},
        "replay": {"mem_size": mem_size(),
                   "storage_policy": dropdown("storage policy", REPLAY_POLICIES, "experience")},
        "agem": {"patterns_per_experience": int_slider("patterns_per_experience", 100, 10, 500, 10),
                 "sample_size": int_slider("sample_size", 64, 8, 256, 8)},
        "ar1": {"rm_sz": int_slider("rm_sz", 500, 100, 1500, 100)},
        "ewc": {"ewc_lambda": log_slider("ewc_lambda", 100.0, -1, 4)},
        "si": {"si_lambda": log_slider("si_lambda", 1.0, -2, 2)},
        "lwf": {"alpha": log_slider("alpha", 1.0, -2, 2),
                "temperature": W.FloatSlider(value=2.0, min=0.5, max=8.0, step=0.5,
                                             description="temperature", style=WIDE_LABEL,
                                             continuous_update=False)},
        "cumulative": {},
        "joint": {},
        "gdumb": {"mem_size": mem_size()},
        "der": {"mem_size": mem_size(),
                "alpha": log_slider("alpha", 0.1, -2, 1),
                "beta": W.FloatSlider(value=0.5, min=0.0, max=2.0, step=0.1, description="beta",
                                      style=WIDE_LABEL, continuous_update=False)},
        "icarl": {"mem_size": mem_size()},
        "online-replay": {"mem_size": mem_size()},
    }


def model_name(result: ExperimentResult) -> str:
    """The network a run trained, in a few words: its class and its size, e.g.
    ``"SimpleMLP, 85k weights"`` (AR1 trains its own network)."""
    model = getattr(result.cl_strategy, "model", None)
    if model is None:
        return "-"
    n = sum(p.numel() for p in model.parameters())
    size = f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"
    return f"{type(model).__name__}, {size} weights"


def comparison_table(results: Sequence[ExperimentResult]) -> pd.DataFrame:
    """One row per run: what was run (the model and the seed included), its summary
    metrics and its time in seconds."""
    rows = []
    for i, res in enumerate(results):
        options = {k: v for k, v in res.config.items() if k not in _COMMON_CONFIG}
        rows.append({"run": i, "strategy": res.strategy, "model": model_name(res),
                     "benchmark": res.benchmark, "scenario": res.config.get("scenario"),
                     "epochs": res.config.get("epochs"), "lr": res.config.get("lr"),
                     "seed": res.config.get("seed"),
                     "params": ", ".join(f"{k}={v}" for k, v in options.items()),
                     **res.summary, "seconds": round(res.seconds, 2)})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def comparison_notes(table: pd.DataFrame) -> list[str]:
    """What makes the rows of a comparison table unlike: different models, seeds, epochs or
    benchmarks. Empty when every run shares them."""
    notes = []
    for column, what in (("model", "models"), ("benchmark", "benchmarks"),
                         ("scenario", "scenarios"), ("epochs", "numbers of epochs"),
                         ("seed", "seeds")):
        if len(table) and table[column].astype(str).nunique() > 1:
            values = ", ".join(dict.fromkeys(table[column].astype(str)))
            notes.append(f"the runs differ in {what} ({values})")
    return notes


_COMMON_CONFIG = ("n_experiences", "scenario", "epochs", "lr", "batch_size", "seed", "device")


#: Strategies whose result is drawn as a reference line in later runs.
UPPER_BOUNDS = ("cumulative", "joint")

#: The scenario switch: the benchmark as it is built, or one of the three scenarios.
SCENARIO_OPTIONS = (("as built", None), ("class-incremental", "class"),
                    ("task-incremental", "task"), ("domain-incremental", "domain"))


class StrategyPlayground(Panel):
    """Train a strategy with live forgetting curves; keep every run for comparison.

    Parameters
    ----------
    benchmarks : list of str, default the three offline digit benchmarks
        Names for :func:`~cltutor.experiments.get_benchmark` (add "split-mnist" on Colab).
    n_experiences : int, default 5
    seed : int, default 0
        The seed control's first value (every run reads the control).
    device : str, default "auto"
    strategy : str, default "naive"
        The strategy selected first, one of :data:`~cltutor.experiments.STRATEGIES`.

    Attributes
    ----------
    results : list of ExperimentResult
        Every run so far; :attr:`table` compares them.
    live : LivePlotLogger or None
        The logger of the last run (its ``history`` is the plotted curves).
    comparison : LiveComparison
        Every run's average accuracy so far as one curve, overlaid in one figure.

    Examples
    --------
    >>> playground = StrategyPlayground()
    >>> playground.epochs_control.value = 1
    >>> playground.run_button.click()
    >>> playground.results[-1].accuracy_matrix.shape, len(playground.table)
    ((5, 5), 1)

    Notebook ``08_playground.ipynb`` compares the strategies with it.
    """

    def __init__(self, benchmarks: Sequence[str] = ("split-digits", "permuted-digits",
                                                    "rotated-digits"),
                 n_experiences: int = 5, seed: int = 0, device: str = "auto",
                 strategy: str = "naive") -> None:
        check_option("StrategyPlayground", "strategy", strategy, STRATEGIES)
        check_int_range("seed", seed, 0, 2**32 - 1, "Use seed=0 for a fixed result.")
        self.n_experiences, self.device = n_experiences, device
        self.strategy_control = W.Dropdown(options=STRATEGIES, value=strategy,
                                           description="strategy")
        self.benchmark_control = W.Dropdown(options=list(benchmarks), description="benchmark")
        # index=0, not value=None: None would select nothing, an empty box instead of "as built"
        self.scenario_control = W.Dropdown(options=SCENARIO_OPTIONS, index=0,
                                           description="scenario")
        self.epochs_control = W.IntSlider(value=3, min=1, max=10, description="epochs",
                                          continuous_update=False)
        self.lr_control = W.FloatLogSlider(value=DEFAULT_LR["naive"], base=10, min=-4, max=0,
                                           step=0.25, description="lr", continuous_update=False)
        self.seed_control = W.BoundedIntText(value=seed, min=0, max=2**32 - 1,
                                             description="seed", layout=W.Layout(width="160px"))
        self.note = W.HTML()  # the lr reset, and what makes the table's rows unlike
        self.params = _param_controls()
        self.run_button = W.Button(description="run", icon="play", button_style="success")
        self.status = W.HTML()
        self.live_out, self.matrix_out, self.table_out = W.Output(), W.Output(), W.Output()
        self.compare_out = W.Output()
        self.comparison = LiveComparison(output=self.compare_out, figsize=(7.5, 3.0))
        self.matrix_view = FigureView(self.matrix_out)
        self.matrix_figure = Figure(figsize=(4.2, 3.4))
        self.results: list[ExperimentResult] = []
        self.live: LivePlotLogger | None = None
        self.strategy_control.observe(guarded(self._strategy_changed, self.status),
                                      names="value")
        self.run_button.on_click(lambda _: self._run_clicked())
        param_box = W.VBox([w for group in self.params.values() for w in group.values()])
        self.ui = W.VBox([
            W.HBox([self.strategy_control, self.benchmark_control, self.scenario_control]),
            W.HBox([self.epochs_control, self.lr_control, self.seed_control]), param_box,
            W.HBox([self.run_button, self.status]), self.note,
            W.HBox([self.live_out, self.matrix_out]), self.table_out, self.compare_out,
        ])
        self._strategy_changed()

    def _strategy_changed(self) -> None:
        name = self.strategy_control.value
        if self.lr_control.value != DEFAULT_LR[name]:
            self.note.value = (f"<i>lr set to {DEFAULT_LR[name]}, the default of {name}, "
                               f"replacing {self.lr_control.value:.3g}.</i>")
        self.lr_control.value = DEFAULT_LR[name]
        for strategy, group in self.params.items():
            for control in group.values():
                control.layout.display = None if strategy == name else "none"

    @property
    def seed(self) -> int:
        """The seed of the next run (the seed control's value)."""
        return self.seed_control.value

    def references(self) -> dict[str, float]:
        """The final average accuracy of each earlier upper-bound run (Cumulative, Joint) on
        the benchmark and scenario now chosen: the dotted lines of the live plot."""
        scenario = self.scenario_control.value
        return {f"{r.strategy} (run {i})": r.summary["average_accuracy"]
                for i, r in enumerate(self.results)
                if r.strategy in UPPER_BOUNDS and r.benchmark == self.benchmark_control.value
                and scenario in (None, r.config.get("scenario"))}

    def options(self) -> dict[str, Any]:
        """The chosen strategy's own parameters, as ``run_experiment`` keywords."""
        return {k: w.value for k, w in self.params[self.strategy_control.value].items()}

    @property
    def table(self) -> pd.DataFrame:
        """The comparison of all runs so far (see :func:`comparison_table`)."""
        return comparison_table(self.results)

    def run(self) -> ExperimentResult:
        """Run the experiment the controls describe; the Run button is disabled meanwhile."""
        self.run_button.disabled = True
        self.status.value = "running..."
        try:
            self.live = LivePlotLogger(output=self.live_out)
            self.live.reference = self.comparison.reference = self.references()
            overlay = self.comparison.curve(f"run {len(self.results)}: "
                                            f"{self.strategy_control.value}")
            result = run_experiment(
                self.benchmark_control.value, self.strategy_control.value,
                n_experiences=self.n_experiences, scenario=self.scenario_control.value,
                epochs=self.epochs_control.value,
                lr=self.lr_control.value, seed=self.seed_control.value, device=self.device,
                progress=False, loggers=[self.live, overlay], eval_every=1, **self.options())
        finally:
            self.run_button.disabled = False
        self.results.append(result)
        self.matrix_figure.clear()
        plot_accuracy_matrix(result.accuracy_matrix, ax=self.matrix_figure.subplots())
        self.matrix_figure.subplots_adjust(left=0.18, right=0.97, bottom=0.15, top=0.9)
        self.matrix_view.show(self.matrix_figure)
        self._show_table()
        notes = comparison_notes(self.table)
        self.note.value = f"<i>Compare with care: {html.escape('; '.join(notes))}.</i>" \
            if notes else ""
        summary = ", ".join(f"{k} {v:.3f}" for k, v in result.summary.items())
        self.status.value = f"run {len(self.results) - 1}: {html.escape(summary)}"
        return result

    def _run_clicked(self) -> None:
        """Any failure (a bad setting, a download that fails) is shown next to the button."""
        guarded(self.run, self.status, [self.run_button])()

    def _show_table(self) -> None:
        if not in_kernel():
            return
        from IPython.display import display

        self.table_out.clear_output(wait=True)
        with self.table_out, pd.option_context("display.precision", 3):
            display(self.table)

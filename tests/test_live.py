"""The live forgetting-curve logger: what it records, what it draws, how often it redraws."""

import numpy as np
import pytest
import torch

from cltutor import EvaluationPlugin, SimpleMLP, SplitDigits, SupervisedPlugin
from cltutor.strategies import Naive
from cltutor.viz import live as liveplot
from cltutor.viz.live import FigureView, LivePlotLogger
from cltutor.viz.plots import NOT_TRAINED_COLOR

MB = 64


@pytest.fixture(scope="module")
def bench():
    return SplitDigits(n_experiences=5, seed=0)


def make_strategy(live, epochs=1, eval_every=-1, plugins=None):
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32, drop_rate=0.0)
    evaluator = EvaluationPlugin(loggers=[live]) if live is not None else None
    return Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=MB,
                 train_epochs=epochs, evaluator=evaluator, device="cpu", eval_every=eval_every,
                 plugins=plugins, seed=0)


def n_iters(exp, epochs=1):
    return -(-len(exp.dataset) // MB) * epochs


def curves(live):
    """{label: (xdata, ydata)} of the forgetting curves drawn on the logger's figure."""
    return {ln.get_label(): (ln.get_xdata().tolist(), ln.get_ydata().tolist())
            for ln in live.ax.lines if ln.get_label().startswith("exp")}


def test_records_the_accuracy_matrix_at_each_evaluation(bench):
    live = LivePlotLogger()
    strategy = make_strategy(live)
    for exp in bench.train_stream[:3]:
        strategy.train(exp)
        strategy.eval(bench.test_stream)
    A = strategy.evaluator.accuracy_matrix  # (5, 5), rows 0..2 measured
    ends = np.cumsum([n_iters(e) for e in bench.train_stream[:3]]).tolist()
    assert live.boundaries == ends
    for k in range(5):
        assert live.history[k] == [(ends[t], pytest.approx(A[t, k])) for t in range(3)]
    assert live.starts == {0: 0, 1: ends[0], 2: ends[1]}  # where training on each began
    drawn = curves(live)
    assert sorted(drawn) == [f"exp {k}" for k in range(3)]  # the trained ones, in colour
    grey = [ln for ln in live.ax.lines if ln.get_color() == NOT_TRAINED_COLOR]
    assert [ln.get_label() for ln in grey] == ["untrained", "_", "_"]  # one legend entry
    for k in range(3):  # coloured from its start on; grey before it (exp 2: from ends[0])
        after = [(x, a) for x, a in live.history[k] if x >= live.starts[k]]
        assert drawn[f"exp {k}"] == ([x for x, _ in after], [a for _, a in after])
    assert grey[0].get_xdata().tolist() == ends[:2]  # exp 2 before and at its start
    for k, line in zip([3, 4], grey[1:], strict=True):  # not trained yet: grey throughout
        assert line.get_xdata().tolist() == [x for x, _ in live.history[k]]
    vlines = [ln.get_xdata()[0] for ln in live.ax.lines if ln.get_linestyle() == "--"]
    assert vlines == ends
    # each train() and each top-level eval() ends with a redraw
    assert live.redraws == 6


def test_throttles_redraws_during_training_and_draws_the_last_state(bench):
    live = LivePlotLogger(min_interval=100.0)  # at most one redraw per 100 s
    strategy = make_strategy(live, epochs=3, eval_every=1)
    strategy.train(bench.train_stream[0], eval_streams=[bench.test_stream])
    # evaluations: one before training (init row), one after each of the 3 epochs
    n = n_iters(bench.train_stream[0])
    assert [x for x, _ in live.history[0]] == [0, n, 2 * n, 3 * n]
    assert live.redraws == 2  # the first eval, then the final one at after_training
    assert curves(live)["exp 0"][0] == [0, n, 2 * n, 3 * n]
    init = strategy.evaluator.init_accuracy[0]
    assert curves(live)["exp 0"][1][0] == pytest.approx(init)


class FakeClock:
    """``time.perf_counter`` for the live module: advanced by hand, 0.1 s per epoch."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


class EpochTicker(SupervisedPlugin):
    def __init__(self, clock, seconds):
        self.clock, self.seconds = clock, seconds

    def after_training_epoch(self, strategy, **kwargs):  # runs before the periodic eval
        self.clock.now += self.seconds


def test_no_redraw_sooner_than_min_interval_after_the_previous_one(bench, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(liveplot, "time", clock)
    live = LivePlotLogger(min_interval=0.25)
    drawn_at = []
    monkeypatch.setattr(live.view, "show", lambda fig: drawn_at.append(clock.now))
    strategy = make_strategy(live, epochs=6, eval_every=1, plugins=[EpochTicker(clock, 0.1)])
    strategy.train(bench.train_stream[0], eval_streams=[bench.test_stream])
    # evaluations at 0 (before training), 0.1, ..., 0.6 s: drawn at 0, 0.3 and 0.6, each at
    # least 0.25 s after the one before; then the end of train() draws at once
    assert len(live.history[0]) == 7
    assert drawn_at == pytest.approx([0.0, 0.3, 0.6, 0.6])
    assert all(b - a >= 0.25 for a, b in zip(drawn_at[:2], drawn_at[1:3], strict=True))
    assert len(curves(live)["exp 0"][0]) == 7  # the skipped evaluations are drawn at the end


def test_the_end_of_train_and_of_a_top_level_eval_draw_the_last_state(bench):
    live = LivePlotLogger(min_interval=100.0)  # nothing is due again within the test
    strategy = make_strategy(live, epochs=2, eval_every=1)
    strategy.train(bench.train_stream[0], eval_streams=[bench.test_stream])
    assert live.redraws == 2  # the first evaluation, then the end of train()
    n = n_iters(bench.train_stream[0], epochs=2)
    assert curves(live)["exp 0"][0] == [0, n // 2, n]
    vlines = [ln.get_xdata()[0] for ln in live.ax.lines if ln.get_linestyle() == "--"]
    assert vlines == [n]  # the boundary added by after_training_exp is drawn too
    strategy.eval(bench.test_stream[:2])  # top level: drawn when it returns
    assert live.redraws == 3
    assert curves(live)["exp 0"][0] == [0, n // 2, n, n]
    grey = [ln for ln in live.ax.lines if ln.get_color() == NOT_TRAINED_COLOR]
    assert "exp 1" not in curves(live)  # not trained yet: its whole curve is grey
    assert [ln.get_xdata().tolist() for ln in grey] == [[0, n // 2, n, n]] + [[0, n // 2, n]] * 3
    strategy.eval(bench.train_stream[:1])  # another stream: nothing new to draw
    assert live.redraws == 3


def test_ignores_other_streams(bench):
    live = LivePlotLogger()
    strategy = make_strategy(live)
    strategy.train(bench.train_stream[0])
    strategy.eval(bench.train_stream[:1])
    assert live.history == {}
    strategy.eval(bench.test_stream[:2])
    assert sorted(live.history) == [0, 1]


def test_needs_an_evaluation_plugin(bench):
    live = LivePlotLogger()
    strategy = make_strategy(None, plugins=[live])
    with pytest.raises(RuntimeError, match="not attached to an EvaluationPlugin: it reads"):
        strategy.train(bench.train_stream[0])
    with pytest.raises(RuntimeError, match=r"Pass it as evaluator=EvaluationPlugin\(loggers="):
        strategy.eval(bench.test_stream[:1])


def test_argument_errors():
    with pytest.raises(ValueError, match="min_interval must be a finite number >= 0, got -1"):
        LivePlotLogger(min_interval=-1)
    with pytest.raises(TypeError, match="min_interval must be a finite number >= 0, got True"):
        LivePlotLogger(min_interval=True)
    with pytest.raises(TypeError, match="output must be an ipywidgets.Output or None, got int"):
        FigureView(output=3)


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


def test_figure_view_uses_one_display_handle_in_a_kernel(monkeypatch):
    import IPython.display

    calls, handle = [], FakeHandle()

    def fake_display(obj, display_id=False):
        calls.append((obj, display_id))
        return handle

    monkeypatch.setattr(liveplot, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    live = LivePlotLogger()
    live.history = {0: [(0, 0.5)]}
    live.redraw()
    live.redraw()
    assert len(calls) == 1 and calls[0][1] is True  # displayed once, with a display id
    assert len(handle.updates) == 1  # then updated in place
    assert handle.updates[0].data[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_view_clears_an_output_widget(monkeypatch):
    import IPython.display
    import ipywidgets

    out = ipywidgets.Output()
    events = []
    monkeypatch.setattr(liveplot, "in_kernel", lambda: True)
    monkeypatch.setattr(out, "clear_output", lambda wait=False: events.append(("clear", wait)))
    monkeypatch.setattr(IPython.display, "display", lambda obj: events.append(("show", obj)))
    view = FigureView(out)
    view.show(LivePlotLogger().figure)
    assert [e[0] for e in events] == ["clear", "show"]
    assert events[0][1] is True
    assert view.shown == 1


def test_in_a_kernel_the_last_state_is_shown_without_waiting_for_the_cell(bench,
                                                                             monkeypatch):
    import IPython.display

    monkeypatch.setattr(liveplot, "in_kernel", lambda: True)
    handle = FakeHandle()
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: handle)
    live = LivePlotLogger(min_interval=100.0)
    strategy = make_strategy(live, epochs=3, eval_every=1)
    for exp in bench.train_stream[:2]:
        strategy.train(exp, eval_streams=[bench.test_stream])
        strategy.eval(bench.test_stream)
    # the first evaluation, then the end of each train() and of each top-level eval()
    assert live.redraws == 5
    assert len(handle.updates) == 4  # displayed once, then updated in place
    n = n_iters(bench.train_stream[0])
    assert curves(live)["exp 0"][0] == [x for x, _ in live.history[0]]
    assert curves(live)["exp 0"][0][-1] == 2 * 3 * n  # the last evaluation is drawn


def test_outside_a_kernel_nothing_is_displayed(capsys):
    assert not liveplot.in_kernel()
    live = LivePlotLogger()
    live.history = {0: [(0, 0.5)]}
    live.redraw()
    assert capsys.readouterr().out == ""
    assert live.view.shown == 1


def test_a_logger_reused_from_an_earlier_cell_starts_clean(bench):
    """Run a cell twice that builds a new evaluator around the same logger: the second
    run's curves are those of a fresh logger, and its figure goes to the running cell."""
    live = LivePlotLogger(min_interval=0)
    for _ in range(2):  # the cell, run twice
        strategy = make_strategy(live)
        strategy.train(bench.train_stream[0])
        strategy.eval(bench.test_stream[:2])
        live.view._handle = "the first cell's display"  # what a kernel would hold
        first_history = dict(live.history)
    fresh = LivePlotLogger(min_interval=0)
    strategy = make_strategy(fresh)
    strategy.train(bench.train_stream[0])
    strategy.eval(bench.test_stream[:2])
    assert live.history == fresh.history == first_history  # not doubled
    assert live.boundaries == fresh.boundaries and len(live.boundaries) == 1
    assert live.redraws == fresh.redraws == 2

    new_evaluator = EvaluationPlugin(loggers=[live])
    assert live.evaluator is new_evaluator and live.history == {} and live.boundaries == []
    assert live.view._handle is None  # the next drawing opens in the cell that runs now


def test_every_live_figure_is_shown_at_100_dpi_or_more(monkeypatch, bench):
    # A projector in a lecture hall needs the detail: the figures were 80 dpi in version 1.
    import io

    import IPython.display
    from PIL import Image

    from cltutor.viz import BufferExplorer, LoaderInspector
    from cltutor.viz.compare import LiveComparison

    shown = []
    monkeypatch.setattr(liveplot, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, display_id=False: shown.append(obj.data) or FakeHandle())

    def last_png(action):
        shown.clear()
        action()
        assert shown, "nothing was displayed"
        return shown[-1]

    live = LivePlotLogger()
    live.history = {0: [(0, 0.5)]}
    compare = LiveComparison()
    compare.curves["Naive"] = [(1.0, 0.9)]
    explorer = BufferExplorer(bench, mem_size=50, play_delay=0)
    inspector = LoaderInspector(bench)
    for fig, action in [(live.figure, live.redraw), (compare.figure, compare.redraw),
                        (explorer.figure, explorer.step), (inspector.figure, inspector.refresh)]:
        assert Image.open(io.BytesIO(last_png(action))).width / fig.get_figwidth() >= 100

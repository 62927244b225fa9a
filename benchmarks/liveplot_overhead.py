"""What live plotting and the notebook panels cost.

Part 1 trains Naive with an evaluation of the test stream after every epoch
(batch 32, 5 experiences, 3 epochs each: 20 evaluations) on two streams:
SplitDigits as the notebooks use it (MLP 64-256-10) and an MNIST-sized stream
cut to 12,000 train / 2,000 test images (MLP 784-256-10, benchmarks/common.py).
Each is run three ways, alternating in one process:

* no logger (the evaluator alone);
* ``LivePlotLogger()`` as shipped (at most one redraw per 0.2 s during training,
  plus one at the end of every ``train()``), rendering a PNG per redraw exactly
  as in a Jupyter kernel (only the send to the front end is replaced by a no-op);
* ``LivePlotLogger(min_interval=0)``: a redraw at every evaluation.

Part 2 times one action of each widget panel (median of the repeats).

    python benchmarks/liveplot_overhead.py            # 5 runs each, 1 torch thread
    python benchmarks/liveplot_overhead.py --runs 3 --threads 2

One torch thread by default: on a shared 2-core machine, two threads that wait
on each other make the timings swing far more than the drawing costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import IPython.display
import ipywidgets
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mnist_sized_benchmark  # noqa: E402

from cltutor import EvaluationPlugin, SimpleMLP, SplitDigits
from cltutor.strategies import Naive  # noqa: E402
from cltutor.viz import live as liveplot  # noqa: E402
from cltutor.viz.live import LivePlotLogger  # noqa: E402
from cltutor.viz.panels import BufferExplorer, LoaderInspector  # noqa: E402

EPOCHS = 3


def train(bm, live: LivePlotLogger | None) -> float:
    torch.manual_seed(0)
    n_inputs = bm.train_stream[0].dataset.x[0].numel()
    model = SimpleMLP(num_classes=10, input_size=n_inputs, hidden_size=256, drop_rate=0.0)
    evaluator = EvaluationPlugin(loggers=[live] if live is not None else None)
    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
                     train_epochs=EPOCHS, evaluator=evaluator, device="cpu", eval_every=1,
                     seed=0)
    start = time.perf_counter()
    for exp in bm.train_stream:
        strategy.train(exp, eval_streams=[bm.test_stream])
    return time.perf_counter() - start


def as_in_a_kernel() -> None:
    """Render PNGs as in Jupyter; only the send to a front end is skipped."""
    liveplot.in_kernel = lambda: True  # FigureView renders the PNG
    IPython.display.display = lambda *args, **kwargs: SimpleNamespace(update=lambda obj: None)
    ipywidgets.Output.clear_output = lambda self, *args, **kwargs: None


def compare(bm, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Times of the three variants, alternating, and the redraws of each."""
    times: dict[str, list[float]] = {"no logger": [], "live, throttled": [],
                                     "live, every eval": []}
    redraws: dict[str, int] = {"no logger": 0}
    train(bm, None)  # warm-up
    for _ in range(runs):
        times["no logger"].append(train(bm, None))
        live = LivePlotLogger()
        times["live, throttled"].append(train(bm, live))
        redraws["live, throttled"] = live.redraws
        live = LivePlotLogger(min_interval=0)
        times["live, every eval"].append(train(bm, live))
        redraws["live, every eval"] = live.redraws
    return times, redraws


def part1(runs: int) -> None:
    as_in_a_kernel()
    streams = {"SplitDigits": SplitDigits(n_experiences=5, seed=0),
               "MNIST-sized 12k": mnist_sized_benchmark(n_train=12000, n_test=2000)}
    print(f"Naive, 5 experiences x {EPOCHS} epochs, test stream evaluated after every epoch "
          f"(medians of {runs} runs)")
    print(f"{'stream':<16} {'variant':<18} {'seconds':>8} {'added s':>8} {'ratio':>6} "
          f"{'redraws':>8}")
    for name, bm in streams.items():
        times, redraws = compare(bm, runs)
        base = statistics.median(times["no logger"])
        for variant, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:<16} {variant:<18} {med:8.2f} {med - base:8.2f} {med / base:6.2f} "
                  f"{redraws[variant]:8d}")


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def part2(runs: int) -> None:
    bm = SplitDigits(n_experiences=5, seed=0)
    task_bm = SplitDigits(n_experiences=5, return_task_id=True, seed=0)
    rows = []
    for policy, selection in (("experience", "random"), ("parametric", "herding")):
        explorer = BufferExplorer(bm, mem_size=100, policy=policy, groupby="class"
                                  if policy == "parametric" else None, selection=selection,
                                  play_delay=0)

        def play(explorer=explorer) -> None:
            explorer.reset()
            explorer.play()

        rows.append((f"BufferExplorer play 5 steps ({policy}, {selection})",
                     median_ms(play, runs)))
    inspector = LoaderInspector(task_bm)
    for kind in ("batch", "replay"):
        inspector.kind_control.value = kind
        rows.append((f"LoaderInspector refresh ({kind}, 20 batches)",
                     median_ms(inspector.refresh, runs)))
    print(f"\nwidget actions (median of {runs}; PNGs rendered, not sent to a browser)")
    for name, ms in rows:
        print(f"{name:<52} {ms:8.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    part1(args.runs)
    part2(args.runs)

"""How long each control change of the panels takes, as a student waits for it.

A change of a control's value runs the panel's handler (rebuild the buffer or the loader,
redraw, render the PNG the notebook shows); here the handler runs exactly as in a kernel,
only the send to a browser is skipped. With one torch thread (the notebooks' setting), each
control is moved back and forth between two values; the table gives the median of the
changes. Target: every change under 100 ms.

BufferExplorer is measured after the whole stream has been played (5 experiences), the
heaviest state: every change replays the history. Its feature-based setting (parametric
buffer, herding, with the PCA view of the exemplars) is measured separately.

    python benchmarks/widgets.py --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from liveplot_overhead import as_in_a_kernel  # noqa: E402

from cltutor.viz.panels import BufferExplorer, LoaderInspector  # noqa: E402


def changes(control, values, runs: int) -> list[float]:
    """Seconds of each change of ``control`` through ``values``, cycling, ``runs`` times."""
    times = []
    for i in range(runs):
        value = values[(i + 1) % len(values)]
        start = time.perf_counter()
        control.value = value
        times.append(time.perf_counter() - start)
    return times


def explorer(policy: str, selection: str = "random") -> BufferExplorer:
    panel = BufferExplorer(mem_size=100, policy=policy, groupby="class", selection=selection,
                           play_delay=0)
    panel.play()
    return panel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="changes per control (default 7)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    as_in_a_kernel()
    rows = []
    simple = explorer("experience")
    rows.append(("BufferExplorer mem_size 100 <-> 200 (experience)",
                 changes(simple.mem_size_control, [100, 200], args.runs)))
    rows.append(("BufferExplorer policy experience <-> class <-> reservoir",
                 changes(simple.policy_control, ["experience", "class", "reservoir"], args.runs)))
    rows.append(("BufferExplorer stream equal <-> halving sizes (experience)",
                 changes(simple.stream_control, ["equal", "halving"], args.runs)))
    herding = explorer("parametric", "herding")
    rows.append(("BufferExplorer mem_size 100 <-> 200 (parametric, herding, PCA view)",
                 changes(herding.mem_size_control, [100, 200], args.runs)))
    rows.append(("BufferExplorer selection herding <-> closest-to-center (PCA view)",
                 changes(herding.selection_control, ["herding", "closest-to-center"],
                         args.runs)))
    rows.append(("BufferExplorer groupby class <-> experience (herding, PCA view)",
                 changes(herding.groupby_control, ["class", "experience"], args.runs)))
    rows.append(("BufferExplorer stream equal <-> halving sizes (herding, PCA view)",
                 changes(herding.stream_control, ["equal", "halving"], args.runs)))
    inspector = LoaderInspector()
    for name, control, values in [
        ("kind batch <-> replay <-> task-balanced", inspector.kind_control,
         ["batch", "replay", "task-balanced"]),
        ("batch_size 32 <-> 64", inspector.batch_size_control, [32, 64]),
        ("mem_size 60 <-> 120", inspector.mem_size_control, [60, 120]),
        ("current experience 2 <-> 3", inspector.step_control, [2, 3]),
        ("count by task <-> class", inspector.groupby_control, ["task", "class"]),
    ]:
        rows.append((f"LoaderInspector {name}", changes(control, values, args.runs)))
    print(f"one torch thread; median of {args.runs} changes each; PNGs rendered, not sent\n")
    print("| control change | median (ms) | max (ms) | under 100 ms |")
    print("|---|---:|---:|---|")
    for name, times in rows:
        median = statistics.median(times) * 1000
        print(f"| {name} | {median:.0f} | {max(times) * 1000:.0f} | "
              f"{'yes' if median < 100 else '**no**'} |")


if __name__ == "__main__":
    main()

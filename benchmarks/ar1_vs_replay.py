"""AR1's latent replay against input replay: time per epoch after the first experience.

The MNIST-sized stream (1x28x28 images, 5 class-incremental experiences; 10,000
train samples by default, so 2,000 per experience), the same
:class:`~cltutor.models.LatentReplayNet` (4 conv blocks with BatchRenorm2D, the
latent cut after block 2: 64x7x7 activations) and the same memory size for all:

* **AR1**: ``train_mb_size`` rows per step, ``cur`` new ones through the whole
  network and ``mb - cur`` stored latents through the top block only; the
  lower blocks are frozen, so no backward pass reaches them;
* **Replay, AR1's split**: ``ReplayPlugin(batch_size=cur, batch_size_mem=mb - cur)``,
  the same rows per step, every row through the whole network;
* **Replay, default**: ``Replay`` as a learner would write it, ``mb`` new + ``mb``
  memory rows per step.

Each strategy trains experiences 0 and 1; the table reports the median epoch
time on experience 1 (epochs timed between ``before_training_epoch`` and
``after_training_epoch``), runs alternating between strategies.

    python benchmarks/ar1_vs_replay.py                   # 3 runs, 10,000 samples
    python benchmarks/ar1_vs_replay.py --runs 5 --n-train 60000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mnist_sized_benchmark  # noqa: E402

from cltutor import AR1, LatentReplayNet, Naive, ReplayPlugin, SupervisedPlugin  # noqa: E402
from cltutor.strategies.ar1 import ar1_minibatch_sizes  # noqa: E402

MEM, MB, EPOCHS, LR = 500, 128, 2, 0.01


class EpochTimer(SupervisedPlugin):
    """Wall time of every training epoch, per experience index."""

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = {}

    def before_training_epoch(self, strategy, **kwargs) -> None:
        self._start = time.perf_counter()

    def after_training_epoch(self, strategy, **kwargs) -> None:
        exp = strategy.experience.current_experience
        self.times.setdefault(exp, []).append(time.perf_counter() - self._start)


def shared_settings(seed: int) -> dict:
    """The arguments every strategy of the comparison gets."""
    return dict(train_mb_size=MB, train_epochs=EPOCHS, eval_mb_size=256, evaluator=None,
                device="cpu", seed=seed)


def run_ar1(bm, seed: int) -> EpochTimer:
    timer = EpochTimer()
    strategy = AR1(lr=LR, rm_sz=MEM, plugins=[timer], **shared_settings(seed))
    strategy.train(bm.train_stream[:2])
    return timer


def run_replay(bm, seed: int, batch_size: int, batch_size_mem: int) -> EpochTimer:
    torch.manual_seed(seed)
    timer = EpochTimer()
    model = LatentReplayNet(num_classes=bm.n_classes, input_shape=(1, 28, 28))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=0.0005)
    replay = ReplayPlugin(mem_size=MEM, batch_size=batch_size, batch_size_mem=batch_size_mem,
                          seed=seed)
    strategy = Naive(model, opt, plugins=[replay, timer], **shared_settings(seed))
    strategy.train(bm.train_stream[:2])
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bm = mnist_sized_benchmark(n_train=args.n_train, n_test=1000, seed=0)
    n1 = len(bm.train_stream[1].dataset)
    cur, rep = ar1_minibatch_sizes(n1, MEM, MB)
    variants = {
        "AR1 (latent replay)": lambda s: run_ar1(bm, s),
        f"Replay, AR1's split ({cur} + {rep})": lambda s: run_replay(bm, s, cur, rep),
        f"Replay, default ({MB} + {MB})": lambda s: run_replay(bm, s, MB, MB),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n1} samples in "
          f"experience 1, memory {MEM}, train_mb_size {MB}, {EPOCHS} epochs\n")
    first, later = {k: [] for k in variants}, {k: [] for k in variants}
    for run in range(args.runs):
        for name, fn in variants.items():
            timer = fn(run)
            first[name] += timer.times[0]
            later[name] += timer.times[1]
    ar1 = statistics.median(later["AR1 (latent replay)"])
    print("| strategy | epoch on exp 0 (s) | epoch on exp 1 (s) | exp 1 vs AR1 |")
    print("|---|---:|---:|---:|")
    for name in variants:
        t0, t1 = statistics.median(first[name]), statistics.median(later[name])
        print(f"| {name} | {t0:.2f} | {t1:.2f} | {t1 / ar1:.2f}x |")
    print(f"\nmedians over {args.runs} runs x {EPOCHS} epochs")


if __name__ == "__main__":
    main()

"""Command line: ``python -m cltutor run --benchmark split-digits --strategy naive``.

Trains a strategy on a benchmark with progress bars, then prints the accuracy
matrix and the summary metrics as tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cltutor.experiments import STRATEGIES, run_experiment

EPILOG = """examples:
  python -m cltutor run --benchmark split-digits --strategy naive --epochs 3 --seed 0
  python -m cltutor run --strategy replay --mem-size 200 --storage-policy class
  python -m cltutor run --strategy replay --storage-policy parametric \\
      --groupby class --selection herding
  python -m cltutor run --benchmark permuted-digits --strategy agem --patterns-per-experience 100
  python -m cltutor run --strategy ar1 --rm-sz 500
  CLTUTOR_DOWNLOAD_TIMEOUT=120 python -m cltutor run --benchmark split-cifar10 --model cnn

MNIST and CIFAR are downloaded on first use, into $XDG_CACHE_HOME/cltutor or
~/.cache/cltutor. A server that does not answer within $CLTUTOR_DOWNLOAD_TIMEOUT seconds
(default 30) ends the run with exit code 2 and a message naming the folder and the files
to copy there; --benchmark split-digits needs no download.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cltutor",
        description="cltutor: train continual-learning strategies and watch them forget.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="train a strategy on a benchmark and print the accuracy matrix",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--benchmark", default="split-digits",
                     help="benchmark name (default: split-digits, bundled and offline)")
    run.add_argument("--n-experiences", type=int, default=5, help="experiences in the stream")
    run.add_argument("--strategy", default="naive", choices=STRATEGIES)
    run.add_argument("--model", default="mlp", choices=("mlp", "cnn"),
                     help="network for naive/replay/agem (AR1 builds its own)")
    run.add_argument("--epochs", type=int, default=3, help="training epochs per experience")
    run.add_argument("--lr", type=float, default=None, help="learning rate (default per strategy)")
    run.add_argument("--batch-size", type=int, default=32, help="training minibatch size")
    run.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    replay = run.add_argument_group("replay")
    replay.add_argument("--mem-size", type=int, default=200, help="replay memory size")
    replay.add_argument("--storage-policy", default="experience",
                        choices=("experience", "class", "reservoir", "parametric"))
    replay.add_argument("--groupby", default=None, choices=("class", "task", "experience"),
                        help="groups of the parametric buffer (default: one group)")
    replay.add_argument("--selection", default="random",
                        choices=("random", "herding", "closest-to-center"),
                        help="exemplar selection of the parametric buffer")

    agem = run.add_argument_group("A-GEM")
    agem.add_argument("--patterns-per-experience", type=int, default=100)
    agem.add_argument("--sample-size", type=int, default=64)

    ar1 = run.add_argument_group("AR1")
    ar1.add_argument("--rm-sz", type=int, default=500, help="latent replay memory size")
    ar1.add_argument("--ewc-lambda", type=float, default=0.0,
                     help="Synaptic Intelligence strength (0 = off)")
    return parser


def strategy_options(args: argparse.Namespace) -> dict:
    """The strategy-specific options the user chose on the command line."""
    if args.strategy == "replay":
        return {
            "mem_size": args.mem_size,
            "storage_policy": args.storage_policy,
            "groupby": args.groupby,
            "selection": args.selection,
        }
    if args.strategy == "agem":
        return {
            "patterns_per_experience": args.patterns_per_experience,
            "sample_size": args.sample_size,
        }
    if args.strategy == "ar1":
        return {"rm_sz": args.rm_sz, "ewc_lambda": args.ewc_lambda}
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run_experiment(
            benchmark=args.benchmark,
            strategy=args.strategy,
            n_experiences=args.n_experiences,
            model=args.model,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            progress=not args.no_progress,
            **strategy_options(args),
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())

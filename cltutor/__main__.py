"""Command line: ``python -m cltutor run --benchmark split-digits --strategy naive``.

Trains a strategy on a benchmark with progress bars, then prints the accuracy
matrix and the summary metrics as tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cltutor._checks import SKLEARN_SEED_END, check_int_range, check_number, check_positive_int
from cltutor.experiments import STRATEGIES, run_experiment

EPILOG = """examples:
  python -m cltutor run --benchmark split-digits --strategy naive --epochs 3 --seed 0
  python -m cltutor run --strategy replay --mem-size 200 --storage-policy class
  python -m cltutor run --strategy replay --storage-policy parametric \\
      --groupby class --selection herding
  python -m cltutor run --benchmark permuted-digits --strategy agem --patterns-per-experience 100
  python -m cltutor run --strategy ar1 --rm-sz 500
  python -m cltutor run --scenario task --strategy naive      # one head per task
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
    run.add_argument("--scenario", choices=("class", "task", "domain"), default=None,
                     help="what the model is asked at test time: class-incremental (default "
                          "for split benchmarks), task-incremental (task labels, one head per "
                          "task) or domain-incremental (labels 0..k-1, no task labels)")
    run.add_argument("--strategy", default="naive", choices=STRATEGIES)
    run.add_argument("--model", default="mlp", choices=("mlp", "cnn"),
                     help="network for naive/replay/agem (AR1 builds its own)")
    run.add_argument("--epochs", type=int, default=3, help="training epochs per experience")
    run.add_argument("--lr", type=float, default=None, help="learning rate (default per strategy)")
    run.add_argument("--batch-size", type=int, default=32, help="training minibatch size")
    run.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    # Strategy options default to None so that main() can tell a typed option from an
    # untyped one; STRATEGY_DEFAULTS fills the untyped ones for the chosen strategy.
    replay = run.add_argument_group("replay")
    replay.add_argument("--mem-size", type=int,
                        help="replay memory size (default 200; also GDumb, DER, iCaRL, "
                             "online-replay)")
    replay.add_argument("--storage-policy", choices=("experience", "class", "reservoir",
                                                     "parametric"),
                        help="which rows the memory keeps (default experience)")
    replay.add_argument("--groupby", choices=("class", "task", "experience"),
                        help="groups of the parametric buffer (default: one group)")
    replay.add_argument("--selection", choices=("random", "herding", "closest-to-center"),
                        help="exemplar selection of the parametric buffer (default random)")

    agem = run.add_argument_group("A-GEM")
    agem.add_argument("--patterns-per-experience", type=int, help="default 100")
    agem.add_argument("--sample-size", type=int, help="default 64")

    ar1 = run.add_argument_group("AR1")
    ar1.add_argument("--rm-sz", type=int, help="latent replay memory size (default 500)")
    ar1.add_argument("--ewc-lambda", type=float,
                     help="AR1: Synaptic Intelligence strength (default 0 = off); EWC: penalty "
                          "strength (default 100)")

    reg = run.add_argument_group("EWC, SI, LwF")
    reg.add_argument("--ewc-mode", choices=("separate", "online"), help="EWC (default separate)")
    reg.add_argument("--decay-factor", type=float, help="online EWC's decay, in (0, 1]")
    reg.add_argument("--si-lambda", type=float, help="SI's strength (default 1)")
    reg.add_argument("--alpha", type=float,
                     help="LwF's distillation weight (default 1); DER's logit weight (default 0.1)")
    reg.add_argument("--temperature", type=float, help="LwF's temperature (default 2)")
    family = run.add_argument_group("DER (GDumb, iCaRL and online-replay take --mem-size)")
    family.add_argument("--beta", type=float, help="DER++'s label weight (default 0.5; 0 is DER)")
    return parser


#: Each strategy's own options (their argparse dest) with their command-line defaults.
STRATEGY_DEFAULTS: dict[str, dict] = {
    "naive": {},
    "replay": {"mem_size": 200, "storage_policy": "experience", "groupby": None,
               "selection": "random"},
    "agem": {"patterns_per_experience": 100, "sample_size": 64},
    "ar1": {"rm_sz": 500, "ewc_lambda": 0.0},
    "ewc": {"ewc_lambda": 100.0, "ewc_mode": "separate", "decay_factor": None},
    "si": {"si_lambda": 1.0},
    "lwf": {"alpha": 1.0, "temperature": 2.0},
    "cumulative": {},
    "joint": {},
    "gdumb": {"mem_size": 200},
    "der": {"mem_size": 200, "alpha": 0.1, "beta": 0.5},
    "icarl": {"mem_size": 200},
    "online-replay": {"mem_size": 200},
}

#: Options that must be positive ints, and their fixes.
_POSITIVE = {
    "n_experiences": "Try --n-experiences 5.",
    "epochs": "Try --epochs 3.",
    "batch_size": "Try --batch-size 32.",
    "mem_size": "Use --mem-size 200 for a small memory.",
    "patterns_per_experience": "Try --patterns-per-experience 100.",
    "sample_size": "Try --sample-size 64.",
    "rm_sz": "Try --rm-sz 500.",
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def strategy_options(args: argparse.Namespace) -> dict:
    """The chosen strategy's options: those typed, then its defaults.

    Raises ValueError for an option typed that belongs to another strategy.
    """
    own = STRATEGY_DEFAULTS[args.strategy]
    for defaults in STRATEGY_DEFAULTS.values():
        for dest in defaults:
            value = getattr(args, dest)
            if value is not None and dest not in own:
                takers = [n for n, d in STRATEGY_DEFAULTS.items() if dest in d]
                names = ", ".join(takers[:-1]) + " or " * (len(takers) > 1) + takers[-1]
                verb = "takes" if len(takers) == 1 else "take"
                raise ValueError(
                    f"{_flag(dest)} must be left out with --strategy {args.strategy}, got "
                    f"{value}. Only --strategy {names} {verb} it: drop {_flag(dest)} or use "
                    f"--strategy {takers[0]}."
                )
    return {dest: default if getattr(args, dest) is None else getattr(args, dest)
            for dest, default in own.items()}


def check_args(args: argparse.Namespace, options: dict) -> None:
    """Check the numbers the user typed, naming the option (before anything is built)."""
    values = {**vars(args), **options}
    for dest, fix in _POSITIVE.items():
        if values.get(dest) is not None:
            check_positive_int(_flag(dest), values[dest], fix)
    if args.lr is not None:
        check_number("--lr", args.lr, "Try --lr 0.05, or leave it out for the strategy's "
                     "default.", low=0, low_open=True)
    check_int_range("--seed", args.seed, 0, SKLEARN_SEED_END - 1,
                    "Use --seed 0 for a fixed result.")
    policy = options.get("storage_policy")
    for dest in ("groupby", "selection"):
        if policy not in (None, "parametric") and getattr(args, dest) is not None:
            raise ValueError(
                f"{_flag(dest)} must be left out with --storage-policy {policy}, got "
                f"{getattr(args, dest)}. Only --storage-policy parametric takes it."
            )
    if options.get("ewc_mode") == "online" and options.get("decay_factor") is None:
        raise ValueError("--decay-factor must be given with --ewc-mode online: a number in "
                         "(0, 1], e.g. --decay-factor 0.9.")
    for dest, fix in (("ewc_lambda", "Use --ewc-lambda 0 for no penalty."),
                      ("si_lambda", "Try --si-lambda 1."), ("alpha", "Try --alpha 1."),
                      ("beta", "Try --beta 0.5 (DER++), or 0 (DER).")):
        if dest in options:
            check_number(_flag(dest), options[dest], fix, low=0)


def _out_of_memory(err: BaseException) -> bool:
    """A failed allocation: what an impossible memory size ends in."""
    return isinstance(err, MemoryError) or (
        isinstance(err, RuntimeError) and "allocate" in str(err))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = strategy_options(args)
        check_args(args, options)
        result = run_experiment(
            benchmark=args.benchmark,
            strategy=args.strategy,
            n_experiences=args.n_experiences,
            scenario=args.scenario,
            model=args.model,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            progress=not args.no_progress,
            **options,
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (RuntimeError, MemoryError) as err:
        if not _out_of_memory(err):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: this run needs more memory than the machine has ({first}). Use a "
              f"smaller --mem-size or --rm-sz.", file=sys.stderr)
        return 2
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m cltutor run --benchmark split-digits --strategy naive``.

``run`` trains a strategy on a benchmark with progress bars, then prints the accuracy
matrix and the summary metrics as tables. ``sweep`` runs every combination of the values
given, over several seeds, and prints the mean and 95% interval of each setting (or, with
``--print-commands``, one ``run`` command per run, for a job array or GNU parallel).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from collections.abc import Sequence

import torch

from cltutor._checks import SKLEARN_SEED_END, check_int_range, check_number, check_positive_int
from cltutor.experiments import STRATEGIES, run_experiment
from cltutor.sweep import expand_grid, summarize, sweep

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
    run.add_argument("--threads", type=int, default=None,
                     help="torch CPU threads (default: torch's own; sweeps use 1)")

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
    add_sweep_parser(sub, run)
    return parser


SWEEP_EPILOG = """examples:
  python -m cltutor sweep --strategy naive replay agem --mem-size 50 200 500 --seeds 0:5 \\
      --n-jobs 2 --out sweep.csv
  python -m cltutor sweep --strategy ewc --ewc-lambda 1 10 100 --benchmark permuted-digits
  python -m cltutor sweep --strategy naive replay --seeds 0:10 --print-commands > runs.txt
      # then one line per job: sbatch --array, GNU parallel, or any launcher

Each option takes one value or several; every combination runs once per seed. An option
applies to the strategies that take it (--mem-size to replay, not to naive or agem).
"""

#: run's options that a sweep does not vary: the seed comes from --seeds.
_NOT_SWEPT = {"help", "seed", "no_progress", "threads"}


def add_sweep_parser(sub: argparse._SubParsersAction, run: argparse.ArgumentParser) -> None:
    """``sweep``: run's options, each taking one or several values, plus the sweep's own."""
    sweep_parser = sub.add_parser(
        "sweep", help="every combination of the values given, over several seeds",
        epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    for action in run._actions:
        if action.dest in _NOT_SWEPT or not action.option_strings:
            continue
        sweep_parser.add_argument(*action.option_strings, dest=action.dest, nargs="+",
                                  type=action.type, choices=action.choices, default=None,
                                  help=action.help)
    own = sweep_parser.add_argument_group("the sweep")
    own.add_argument("--seeds", nargs="+", default=["0:3"],
                     help="seeds: a range start:stop (0:5 is 0 1 2 3 4) or a list (default 0:3)")
    own.add_argument("--n-jobs", type=int, default=1, help="local processes (default 1; -1: "
                                                           "one per core)")
    own.add_argument("--cache", default=None, help="folder of finished runs, not run again")
    own.add_argument("--out", default=None, help="write every run's row to this CSV file")
    own.add_argument("--metric", default="average_accuracy",
                     choices=("average_accuracy", "average_forgetting", "bwt"),
                     help="what the summary table averages (default average_accuracy)")
    own.add_argument("--print-commands", action="store_true",
                     help="print one 'python -m cltutor run' line per run instead of running")
    own.add_argument("--no-progress", action="store_true", help="hide the progress bar")


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

#: Every strategy option the command line has.
_ALL_OPTIONS = {dest for defaults in STRATEGY_DEFAULTS.values() for dest in defaults}

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


def parse_seeds(tokens: Sequence[str]) -> list[int]:
    """``["0:3"]`` -> ``[0, 1, 2]``; ``["0", "5"]`` -> ``[0, 5]``."""
    seeds = []
    for token in tokens:
        start, colon, stop = token.partition(":")
        try:
            seeds.extend(range(int(start), int(stop)) if colon else [int(token)])
        except ValueError:
            raise ValueError(f"--seeds must be ints or ranges start:stop, got {token!r}. "
                             f"Try --seeds 0:5 or --seeds 0 1 2.") from None
    return seeds


def sweep_grid(args: argparse.Namespace) -> list[dict[str, list]]:
    """One grid dict per strategy: run's options given apply to all, a strategy's own
    options to the strategies that take them."""
    given = {dest: values for dest, values in vars(args).items()
             if isinstance(values, list) and dest not in ("seeds", "strategy")}
    strategies = args.strategy or ["naive"]
    for dest in given:
        takers = [n for n, d in STRATEGY_DEFAULTS.items() if dest in d]
        if dest in _ALL_OPTIONS and not set(takers) & set(strategies):
            raise ValueError(f"{_flag(dest)} must go with a strategy that takes it, got "
                             f"--strategy {' '.join(strategies)}. Add --strategy "
                             f"{' or '.join(takers)}, or drop {_flag(dest)}.")
    return [{"strategy": [name], **{dest: values for dest, values in given.items()
                                    if dest not in _ALL_OPTIONS
                                    or dest in STRATEGY_DEFAULTS[name]}}
            for name in dict.fromkeys(strategies)]


def run_command(config: dict) -> str:
    """The ``python -m cltutor run`` line that reproduces one run of a sweep."""
    words = ["python", "-m", "cltutor", "run"]
    for dest, value in config.items():
        words += [_flag(dest), str(value)]
    return shlex.join([*words, "--threads", "1", "--no-progress"])


def main_sweep(args: argparse.Namespace) -> int:
    grid = sweep_grid(args)
    seeds = parse_seeds(args.seeds)
    if args.print_commands:
        for config in expand_grid(grid, seeds):
            print(run_command(config))
        return 0
    with warnings.catch_warnings():  # the failures are listed below, one line each
        warnings.simplefilter("ignore", UserWarning)
        frame = sweep(grid, seeds, n_jobs=args.n_jobs, cache=args.cache,
                      progress=not args.no_progress)
    if args.out:
        out = frame.assign(accuracy_matrix=[None if m is None else json.dumps(m.tolist())
                                            for m in frame["accuracy_matrix"]])
        out.to_csv(args.out, index=False)
    table = summarize(frame, metric=args.metric)
    print(f"{args.metric} over seeds {seeds} ({len(frame)} runs)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    for column, what in (("warnings", "warned"), ("error", "failed")):
        for _, row in frame[frame[column].notna()].iterrows():
            print(f"{what}: {row['strategy']} seed {row['seed']}: {row[column]}",
                  file=sys.stderr)
    return 1 if frame["error"].notna().any() else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sweep":
        try:
            return main_sweep(args)
        except (ValueError, TypeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    try:
        if args.threads is not None:
            check_positive_int("--threads", args.threads, "Try --threads 1.")
            torch.set_num_threads(args.threads)
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

"""What a strategy is given, checked and normalised before the loop uses it.

The model, optimizer and loss, the device name (``"auto"`` included), the experiences
to train or evaluate on, the plugins and the evaluator, and, once per experience, the
first minibatch against the model. Each function raises an error that names the
parameter and says how to fix it, so a learner's mistake fails at construction or at
the start of ``train()`` rather than deep inside torch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_int_range, check_number, check_positive_int
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import Experience
from cltutor.evaluation import EvaluationPlugin, default_evaluator
from cltutor.models import MultiTaskModule

__all__ = [
    "check_model_and_optimizer",
    "check_criterion",
    "check_loop_sizes",
    "resolve_device",
    "as_experiences",
    "train_inputs",
    "check_plugins",
    "make_evaluator",
    "first_forward",
]

_BUILD_OPTIMIZER = "Build it on this model, e.g. torch.optim.SGD(model.parameters(), lr=0.01)."


def check_model_and_optimizer(model: Any, optimizer: Any, criterion: Any = None) -> None:
    """An ``nn.Module``, and an optimizer built on its parameters with sane hyperparameters.

    Parameters of ``criterion`` (a loss module with learnable weights) may be in the
    optimizer too. ``lr`` must be finite and > 0; ``momentum`` and ``weight_decay``,
    where the optimizer has them, finite and >= 0.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}. "
            "Use e.g. torch.optim.SGD(model.parameters(), lr=0.01)."
        )
    own = {id(p) for p in model.parameters()}
    if isinstance(criterion, nn.Module):
        own |= {id(p) for p in criterion.parameters()}
    groups = optimizer.param_groups
    for i, group in enumerate(groups):
        where = f" (param_groups[{i}])" if len(groups) > 1 else ""
        foreign = sum(id(p) not in own for p in group["params"])
        if foreign:
            raise ValueError(
                f"optimizer must update the parameters of the model it trains, got "
                f"{foreign} parameter(s) that are not the model's{where}: the model's weights "
                f"would never change. {_BUILD_OPTIMIZER}"
            )
        for key, fix, low_open in (("lr", "Try lr=0.01.", True),
                                   ("momentum", "Try momentum=0.9, or 0 for none.", False),
                                   ("weight_decay", "Use weight_decay=0 for none.", False)):
            if key in group:
                value = group[key]
                if isinstance(value, Tensor) and value.numel() == 1:  # torch allows tensor lr
                    value = value.item()
                check_number(f"the optimizer's {key}{where}", value,
                             f"{fix} Build the optimizer again with it.", low=0,
                             low_open=low_open)


def check_criterion(criterion: Any) -> Any:
    """The loss to use: ``criterion`` itself, or ``nn.CrossEntropyLoss()`` for None."""
    if criterion is None:
        return nn.CrossEntropyLoss()
    if isinstance(criterion, type):  # nn.CrossEntropyLoss without the parentheses
        prefix = "nn." if getattr(nn, criterion.__name__, None) is criterion else ""
        raise TypeError(
            f"criterion must be a loss object, got the class {criterion.__name__} itself. "
            f"Write criterion={prefix}{criterion.__name__}() with the parentheses."
        )
    if not callable(criterion):
        raise TypeError(
            f"criterion must be a callable loss(output, y), got {criterion!r}. "
            "Use criterion=nn.CrossEntropyLoss() (or leave it None)."
        )
    return criterion


def check_loop_sizes(train_mb_size: Any, train_epochs: Any, eval_mb_size: Any,
                     eval_every: Any) -> None:
    """Minibatch sizes and epochs are positive ints; ``eval_every`` an int >= -1."""
    check_positive_int("train_mb_size", train_mb_size, "Try train_mb_size=32.")
    check_positive_int("train_epochs", train_epochs, "Try train_epochs=1.")
    check_positive_int("eval_mb_size", eval_mb_size, "Try eval_mb_size=128.", allow_none=True)
    check_int_range("eval_every", eval_every, -1, None,
                    "Use -1 (never), 0 (after each experience) or k > 0 (every k epochs).")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; names and ``torch.device`` checked alike."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    names = ("device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {!r}. "
             "Use device='auto' to pick the GPU when there is one.")
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except RuntimeError:
            raise ValueError(names.format(device)) from None
    else:
        raise TypeError(f"device must be a string or torch.device, got {device!r}.")
    name = str(resolved)
    if resolved.type == "cpu" and resolved.index not in (None, 0):
        raise ValueError(f"device must be 'cpu' (torch does not number CPUs), got {name!r}. "
                         "Use device='cpu'.")
    if resolved.type == "cuda":
        n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n_gpus == 0:
            raise ValueError(
                f"device={name!r} asks for a GPU but torch sees none. Use device='auto' or 'cpu'."
            )
        if resolved.index is not None and resolved.index >= n_gpus:
            raise ValueError(
                f"device must be 'cuda' or 'cuda:N' with N < {n_gpus} (torch sees {n_gpus} "
                f"GPU(s)), got {name!r}. Use device='cuda' for the first one."
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={name!r} asks for Apple's GPU but torch sees none. "
                         "Use device='auto' or 'cpu'.")
    elif resolved.type not in ("cpu", "mps"):
        raise ValueError(names.format(name))
    return resolved


def as_experiences(experiences: Experience | Iterable[Experience], name: str) -> list:
    """``experiences`` as a list of Experience objects (one Experience becomes a list)."""
    if isinstance(experiences, Experience):
        return [experiences]
    if not isinstance(experiences, Iterable):
        raise TypeError(
            f"{name} must be an Experience or a list of them, got {type(experiences).__name__}."
        )
    out = list(experiences)
    if not out:
        raise ValueError(
            f"{name} is empty; pass an Experience or a non-empty stream, e.g. "
            "benchmark.test_stream."
        )
    for exp in out:
        if not isinstance(exp, Experience):
            raise TypeError(f"{name} must hold Experience objects, got {type(exp).__name__}.")
    return out


def train_inputs(experiences: Any, eval_streams: Any, eval_every: int) -> tuple[list, list]:
    """``train()``'s experiences and the streams its periodic evaluation runs on.

    An empty experience is an error; training on a test stream, or ``eval_streams``
    that ``eval_every=-1`` never evaluates, a warning.
    """
    experiences = as_experiences(experiences, "experiences")
    for exp in experiences:
        if len(exp.dataset) == 0:
            raise ValueError(
                f"experiences must hold at least one row each, got {exp!r} with 0 rows. "
                "Leave it out, or check the split that built it."
            )
    on_test = [exp for exp in experiences if exp.stream_name == "test"]
    if on_test:
        warnings.warn(
            f"train() was given {on_test[0]!r} from the test stream: the model then learns "
            "the data it is tested on and its test accuracy means little. Train on "
            "benchmark.train_stream and keep test_stream for eval().",
            UserWarning, stacklevel=3,
        )
    if eval_streams is not None and eval_every == -1:
        warnings.warn(
            "eval_streams is used only when eval_every >= 0, got eval_every=-1: these streams "
            "are not evaluated. Build the strategy with eval_every=0 (after each experience) "
            "or k > 0 (every k epochs), or call strategy.eval(stream) yourself.",
            UserWarning, stacklevel=3,
        )
    streams = [as_experiences(s, "eval_streams") for s in (eval_streams or [experiences])]
    return experiences, streams


def check_plugins(plugins: Sequence[SupervisedPlugin] | None) -> list[SupervisedPlugin]:
    """``plugins`` as a list (None: empty), each a :class:`SupervisedPlugin`."""
    if plugins is None:
        return []
    if isinstance(plugins, SupervisedPlugin):
        name = type(plugins).__name__
        raise TypeError(f"plugins must be a list of plugins, got a single {name}. "
                        f"Write plugins=[{name}(...)].")
    if isinstance(plugins, (str, bytes)) or not isinstance(plugins, Iterable):
        raise TypeError(f"plugins must be a list of SupervisedPlugin instances, got "
                        f"{plugins!r}. Write e.g. plugins=[ReplayPlugin(mem_size=200)].")
    plugins = list(plugins)
    for p in plugins:
        if not isinstance(p, SupervisedPlugin):
            raise TypeError(
                f"plugins must be SupervisedPlugin instances, got {type(p).__name__}. "
                "Subclass cltutor.SupervisedPlugin and override the callbacks you need."
            )
    return plugins


def make_evaluator(evaluator: EvaluationPlugin | str | None) -> EvaluationPlugin:
    """The evaluator itself, ``default_evaluator()`` for "default", an empty one for None.

    The empty one still records the accuracy matrix and costs nothing per iteration.
    """
    if evaluator is None:
        return EvaluationPlugin()
    if isinstance(evaluator, str) and evaluator == "default":
        return default_evaluator()
    if not isinstance(evaluator, EvaluationPlugin):
        raise TypeError(
            f"evaluator must be an EvaluationPlugin, 'default' or None, got {evaluator!r}."
        )
    return evaluator


# -- the first minibatch of an experience against the model --------------------------
def first_forward(strategy: Any) -> Tensor:
    """``strategy.forward()`` on an experience's first minibatch, the data checked first-hand.

    Run once per experience instead of the plain forward, so it costs no extra pass.
    Torch's shape and dtype errors become a ValueError naming the model, the data's
    per-sample shape and dtype, and the fix; with the default losses, labels outside
    ``[0, outputs - 1]`` are refused before the loss indexes with them.
    """
    x = strategy.mb_x
    _check_scenario_fits(strategy.experience, strategy.model)
    try:
        output = strategy.forward()  # (B, n_classes)
    except torch.cuda.OutOfMemoryError:
        raise
    except (RuntimeError, IndexError) as err:
        raise ValueError(_input_mismatch(strategy.model, x, err)) from err
    y = strategy.mb_y  # (B,) class indices, for the default losses
    class_indices = y.ndim == 1 and not y.is_floating_point() and output.ndim == 2
    if class_indices and isinstance(strategy._criterion, (nn.CrossEntropyLoss, nn.NLLLoss)):
        _check_labels(strategy.experience, y, output.shape[1], type(strategy.model).__name__)
    return output


def _input_mismatch(model: nn.Module, x: Tensor, err: Exception) -> str:
    """What the model expects of ``x`` (B, ...) and how to make them fit."""
    name, shape = type(model).__name__, tuple(x.shape[1:])
    expected, fixes = "inputs it can take", []
    if not x.is_floating_point():
        expected = "floating-point inputs"
        fixes.append("Convert x with x.float() before building the dataset.")
    input_size = getattr(model, "input_size", None)
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if isinstance(input_size, int):
        expected = f"{input_size} features per sample"
        if not shape:
            fixes.append("Give x one row of features per sample, e.g. x.reshape(-1, 1).")
        elif math.prod(shape) != input_size:
            fixes.append(f"Use {name}(input_size={math.prod(shape)}).")
    elif conv is not None:
        c = conv.in_channels
        expected = f"images of shape ({c}, H, W)"
        side = math.isqrt(shape[0] // c) if len(shape) == 1 and shape[0] >= c else 0
        if len(shape) == 1 and side * side * c == shape[0]:
            fixes.append(f"Reshape the flat rows into images: x.view(-1, {c}, {side}, {side}).")
        elif len(shape) != 3:
            fixes.append("Give x the shape (N, C, H, W), e.g. x.unsqueeze(1) for (N, H, W).")
        elif shape[0] != c:
            fixes.append(f"Use {name}(in_channels={shape[0]}).")
    if not fixes:
        fixes.append("Check the model's first layer against the data.")
    torch_said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (f"x must fit {name}, which takes {expected}, got per-sample shape {shape} "
            f"and dtype {x.dtype}. {' '.join(fixes)} (torch: {torch_said})")


def _check_labels(experience: Any, mb_y: Tensor, n_outputs: int, model_name: str) -> None:
    """Every label of ``experience`` (and of the minibatch) indexes one of the outputs."""
    ys = [mb_y]
    dataset_y = getattr(experience.dataset, "y", None)
    if isinstance(dataset_y, Tensor) and dataset_y.numel():
        ys.append(dataset_y)
    low = min(int(y.min()) for y in ys)
    high = max(int(y.max()) for y in ys)
    expected = f"class indices in [0, {n_outputs - 1}] for a {model_name} with {n_outputs} outputs"
    if low < 0:
        raise ValueError(f"y must be {expected}, got the label {low} in {experience!r}. "
                         "Number the classes from 0, e.g. y - y.min().")
    if high >= n_outputs:
        stream = getattr(experience, "origin_stream", None) or [experience]
        needed = max([high + 1] + [c + 1 for e in stream for c in e.classes_in_this_experience])
        raise ValueError(
            f"y must be {expected}, got the largest label {high} in {experience!r}. Give the "
            f"model one output per class of the benchmark, e.g. {model_name}(num_classes={needed})."
        )


# -- multi-head models and the task-incremental scenario ----------------------------------
def _check_scenario_fits(experience: Any, model: nn.Module) -> None:
    """A task-incremental stream needs a model that reads task labels."""
    stream = getattr(experience, "origin_stream", None)
    if getattr(stream, "scenario", None) == "task" and not isinstance(model, MultiTaskModule):
        raise ValueError(
            f"{experience!r} is from a task-incremental stream (scenario='task'): its labels "
            f"restart at 0 in every task and only the task label tells the tasks apart, but "
            f"{type(model).__name__} takes no task labels. Give it one head per task: "
            f"MTSimpleMLP(input_size=...), or a MultiTaskModule with a MultiHeadClassifier; "
            f"or build the stream with scenario='domain' for one shared head."
        )


def trained_tasks(model: nn.Module, experience: Any) -> bool:
    """Whether ``model`` can be evaluated on ``experience``: any model but a multi-head one
    that was trained on none of the experience's tasks (it has no head for them)."""
    if not isinstance(model, MultiTaskModule):
        return True
    return bool(set(experience.task_labels) & model.known_train_tasks_labels)


def warn_if_nothing_evaluated(model: nn.Module, experiences: list) -> None:
    """An ``eval()`` that skipped every experience says why, instead of returning nothing."""
    if experiences and not any(trained_tasks(model, exp) for exp in experiences):
        tasks = sorted({t for exp in experiences for t in exp.task_labels})
        warnings.warn(
            f"eval() measured nothing: {type(model).__name__} has heads only for the tasks it "
            f"was trained on, {sorted(model.known_train_tasks_labels)}, and these experiences "
            f"are of tasks {tasks}. Train on a task before evaluating it.",
            UserWarning, stacklevel=3,
        )


def warn_if_diverged(strategy: Any) -> None:
    """After an epoch: a loss that is no longer a number means the weights diverged (once per
    strategy; a check of the last minibatch's loss, so it costs one comparison per epoch)."""
    loss = strategy.loss
    if loss is None or strategy._warned_diverged:
        return
    if not torch.isfinite(loss.detach()).all():
        strategy._warned_diverged = True
        warnings.warn(
            f"the training loss is {float(loss.detach())} after epoch "
            f"{strategy.clock.train_exp_epochs + 1} of experience "
            f"{strategy.experience.current_experience}: the weights have diverged, and from "
            f"now on every prediction is the same (about chance accuracy). Lower the learning "
            f"rate, or the strength of a penalty (ewc_lambda, si_lambda, alpha).",
            RuntimeWarning, stacklevel=4,
        )

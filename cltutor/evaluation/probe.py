"""Is the forgetting in the features or in the output layer? Refit the head and see.

:func:`linear_probe` freezes the network below its head, computes the features of every
training row of a benchmark, and fits a fresh linear head on all classes at once (a convex
problem: softmax regression, solved by L-BFGS from zero weights, so it has one answer).
It reports three test accuracies on the whole test stream:

- ``head``: the model as it is, its own output layer;
- ``probe``: the refitted linear head on the same frozen features;
- ``ncm``: the nearest class mean of the (L2-normalised) training features, no training.

When ``probe`` is far above ``head``, the features still separate the old classes and it
is the output layer that forgot; when both are low, the features themselves forgot. Read
it against the same probe of the network *before* training: a linear probe of an untrained
network (or of the raw pixels) already separates the digits well, so the probe measures
how much class information the features kept, not how much they learnt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cltutor._checks import check_positive_int
from cltutor.data import Benchmark, ClassificationDataset
from cltutor.models import MultiTaskModule, NCMClassifier, class_means

__all__ = ["ProbeResult", "linear_probe"]


@dataclass(frozen=True)
class ProbeResult:
    """Test accuracies of the model's own head, a refitted linear head, and the NCM."""

    head: float
    probe: float
    ncm: float

    def __repr__(self) -> str:
        return f"ProbeResult(head={self.head:.3f}, probe={self.probe:.3f}, ncm={self.ncm:.3f})"


class _HeadInput(Exception):
    """Raised by the pre-hook once the head's input is captured (skips the head)."""


def _stacked(stream: list) -> ClassificationDataset:
    data = stream[0].dataset
    for exp in stream[1:]:
        data = data.concat(exp.dataset)
    return data


@torch.no_grad()
def _features_and_outputs(model: nn.Module, head: nn.Module, data: ClassificationDataset,
                          batch_size: int) -> tuple[Tensor, Tensor]:
    """The head's inputs ``(n, d)`` and the model's outputs ``(n, C)`` on ``data``."""
    device = next(model.parameters()).device
    features: list[Tensor] = []
    handle = head.register_forward_pre_hook(lambda _m, inputs: features.append(inputs[0]))
    outputs = []
    try:
        for idx in torch.arange(len(data)).split(batch_size):
            x, _, _ = data.get_batch(idx.to(data.device))
            outputs.append(model(x.to(device)))
    finally:
        handle.remove()
    return torch.cat(features).flatten(1), torch.cat(outputs)


def _fit_softmax(f: Tensor, y: Tensor, n_classes: int, max_iter: int) -> nn.Linear:
    """Softmax regression on ``f`` from zero weights, L-BFGS (a tiny L2 keeps it unique)."""
    linear = nn.Linear(f.shape[1], n_classes).to(f.device, f.dtype)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=max_iter,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(linear(f), y) + 1e-4 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return linear


def linear_probe(model: nn.Module, benchmark: Benchmark, head: str = "classifier",
                 max_iter: int = 200, batch_size: int = 1024) -> ProbeResult:
    """Refit only the head of ``model`` on all classes from its frozen features.

    Parameters
    ----------
    model : nn.Module
        A single-head model whose output layer is the submodule ``head``.
    benchmark : Benchmark
        Features of all its training rows fit the probe; all its test rows score it.
    head : str, default "classifier"
        The name of the output layer in ``model.named_modules()``.
    max_iter : int, default 200
        L-BFGS iterations.
    batch_size : int, default 1024
        Rows per forward pass.

    The model is not changed: it runs in eval mode without gradients and its train/eval
    modes are put back.

    Examples
    --------
    >>> import torch
    >>> from cltutor import Naive, SimpleMLP, SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = SimpleMLP(num_classes=10, input_size=64, hidden_size=64)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
    ...                  train_epochs=3, evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> result = linear_probe(model, bm)
    >>> result.probe > result.head + 0.3  # Naive's features still hold the old classes
    True

    Notebooks ``05_replay.ipynb`` and ``11_beyond_replay.ipynb`` probe Naive and replay.
    """
    if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
        raise TypeError(f"model must be a torch nn.Module with parameters, got "
                        f"{type(model).__name__}.")
    if isinstance(model, MultiTaskModule):
        raise TypeError("linear_probe refits one head on all classes; a MultiTaskModule has "
                        "one head per task. Probe a single-head model (class-incremental).")
    if not isinstance(benchmark, Benchmark):
        raise TypeError(f"benchmark must be a cltutor Benchmark, got {type(benchmark).__name__}.")
    modules = dict(model.named_modules())
    if head not in modules or head == "":
        names = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
        raise ValueError(f"head must name the model's output layer, got {head!r}; its linear "
                         f"layers are {names}. E.g. head='classifier' for SimpleMLP.")
    check_positive_int("max_iter", max_iter, "Use max_iter=200.")
    check_positive_int("batch_size", batch_size, "Use batch_size=1024.")
    train, test = _stacked(benchmark.train_stream), _stacked(benchmark.test_stream)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        f_train, _ = _features_and_outputs(model, modules[head], train, batch_size)
        f_test, out_test = _features_and_outputs(model, modules[head], test, batch_size)
    finally:
        for m, mode in modes:
            m.train(mode)
    y_train, y_test = train.y.to(f_train.device), test.y.to(f_test.device)
    mean, std = f_train.mean(0), f_train.std(0).clamp_min(1e-6)  # standardise: same probe
    n_classes = max(benchmark.n_classes, int(y_train.max()) + 1)
    probe = _fit_softmax((f_train - mean) / std, y_train, n_classes, max_iter)
    with torch.no_grad():
        probe_pred = probe((f_test - mean) / std).argmax(1)
        ncm = NCMClassifier(normalize=True)
        ncm.replace_class_means_dict(class_means(f_train, y_train))
        ncm_pred = ncm(f_test).argmax(1)
    return ProbeResult(*(float((pred == y_test).float().mean())
                         for pred in (out_test.argmax(1), probe_pred, ncm_pred)))

"""Elastic Weight Consolidation (Kirkpatrick et al., 2017), separate and online.

After each experience EWC keeps the parameters ``theta*_k`` and their importance, the
diagonal of the *empirical* Fisher information:

    F_k,i = mean over the experience's samples (x, y) of (d log p(y | x) / d theta_i)^2,

one squared gradient *per sample*, of the log-likelihood of the true label. (Squaring the
gradient of a minibatch's mean loss instead, as some libraries do, gives a Fisher several
times smaller, so their ``ewc_lambda`` values do not carry over.) Later losses get

    lambda / 2 * sum_k sum_i F_k,i (theta_i - theta*_k,i)^2          (mode "separate")
    lambda / 2 * sum_i F_i (theta_i - theta*_i)^2,  F <- decay F + F_k  (mode "online")

For a network of ``nn.Linear`` layers the squared per-sample gradients have a closed form
from one backward pass per batch; any other network gets per-sample gradients in batches
with ``torch.func.vmap``. Neither loops over samples in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from cltutor._checks import check_bool, check_number, check_positive_int
from cltutor.callbacks import SupervisedPlugin
from cltutor.models import MultiTaskModule
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive
from cltutor.strategies.clock import model_modes, restore_modes

__all__ = ["fisher_diagonal", "ewc_penalty", "merge_penalty_terms", "EWCPlugin", "EWC",
           "check_lambda"]

Importance = dict[str, Tensor]  # parameter name -> a tensor of its shape


def check_lambda(name: str, value: Any) -> None:
    """A finite strength >= 0."""
    check_number(name, value, f"Try {name}=100, or 0 for no penalty.", low=0)


def fisher_diagonal(model: nn.Module, dataset: Any, batch_size: int = 256,
                    device: torch.device | str | None = None) -> Importance:
    """The diagonal empirical Fisher of ``model`` on ``dataset``: per trainable parameter,
    the mean over samples of the squared gradient of ``log p(y_true | x)``.

    The model is evaluated in eval mode (no dropout noise) and put back in its modes.

    Examples
    --------
    >>> from cltutor.data import ClassificationDataset
    >>> model = nn.Linear(2, 2)
    >>> data = ClassificationDataset(torch.rand(5, 2), torch.tensor([0, 1, 0, 1, 1]))
    >>> fisher = fisher_diagonal(model, data)
    >>> sorted(fisher), fisher["weight"].shape
    (['bias', 'weight'], torch.Size([2, 2]))
    """
    check_positive_int("batch_size", batch_size, "Try batch_size=256.")
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    device = next(iter(params.values())).device if device is None else torch.device(device)
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    modes = model_modes(model)
    model.eval()
    try:
        batches = torch.arange(len(dataset)).split(batch_size)
        if _only_linear_layers(model):
            for idx in batches:
                _add_linear_squares(model, *(v.to(device) for v in dataset.get_batch(idx)),
                                    total)
        else:
            buffers = dict(model.named_buffers())
            for idx in batches:
                x, y, t = (v.to(device) for v in dataset.get_batch(idx))
                multi = isinstance(model, MultiTaskModule)
                for task in t.unique().tolist() if multi else [None]:
                    rows = slice(None) if task is None else t == task
                    grads = _per_sample_grads(model, params, buffers, x[rows], y[rows], task)
                    for n, g in grads.items():
                        total[n] += (g ** 2).sum(0)
    finally:
        restore_modes(modes)
    return {n: f / max(len(dataset), 1) for n, f in total.items()}


def _only_linear_layers(model: nn.Module) -> bool:
    """Every trainable parameter belongs to an ``nn.Linear`` (the closed form applies)."""
    return all(isinstance(m, nn.Linear) or not any(p.requires_grad for p in
                                                   m.parameters(recurse=False))
               for m in model.modules())


def _add_linear_squares(model: nn.Module, x: Tensor, y: Tensor, t: Tensor,
                        total: Importance) -> None:
    """Add ``sum_j (d log p(y_j | x_j) / d theta)^2`` for every Linear's weight and bias.

    Rows are independent (eval mode), so one backward pass of ``sum_j log p(y_j | x_j)``
    gives each row's gradient ``g_j`` at a layer's output; its weight gradient is
    ``g_j a_j^T`` for the layer's input ``a_j``, and the sum of their squares is
    ``(g^2)^T (a^2)``: no per-row gradient is ever stored.
    """
    calls: list[tuple[nn.Module, Tensor, list[Tensor]]] = []  # (layer, input, [output grad])

    def record(module: nn.Module, args: tuple, out: Tensor) -> None:
        out_grad: list[Tensor] = []
        out.register_hook(out_grad.append)  # the output's gradient, during backward
        calls.append((module, args[0].detach(), out_grad))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        logits = model(x, t) if isinstance(model, MultiTaskModule) else model(x)
    finally:
        for hook in hooks:
            hook.remove()
    torch.log_softmax(logits, dim=1).gather(1, y[:, None]).sum().backward()
    names = {m: n for n, m in model.named_modules()}
    for module, act, out_grad in calls:
        if not out_grad:  # an output that did not reach the loss
            continue
        prefix = names[module] + "." if names[module] else ""
        g = out_grad[0].detach()
        if prefix + "weight" in total:
            total[prefix + "weight"] += (g ** 2).T @ (act ** 2)  # (out, in)
        if module.bias is not None and prefix + "bias" in total:
            total[prefix + "bias"] += (g ** 2).sum(0)
    model.zero_grad(set_to_none=True)


def _per_sample_grads(model: nn.Module, params: Importance, buffers: Importance, x: Tensor,
                      y: Tensor, task: int | None) -> Importance:
    """``d log p(y_j | x_j) / d theta`` for every row j, shape ``(B, *theta.shape)``."""
    def log_likelihood(p: Importance, xj: Tensor, yj: Tensor) -> Tensor:
        args = (xj[None],) if task is None else (xj[None], task)
        logits = functional_call(model, {**p, **buffers}, args)  # (1, n_classes)
        return torch.log_softmax(logits, dim=1)[0].gather(0, yj[None])[0]

    return vmap(grad(log_likelihood), in_dims=(None, 0, 0))(params, x, y)


def ewc_penalty(model: nn.Module, saved: Sequence[tuple[Importance, Importance]],
                ewc_lambda: float) -> Tensor:
    """``lambda / 2 * sum over saved (F, theta*) of sum_i F_i (theta_i - theta*_i)^2``.

    Parameters added after a save (a new task's head) have no term in it.
    """
    named = dict(model.named_parameters())
    terms = [(f * (named[n] - anchor[n]) ** 2).sum()
             for fisher, anchor in saved for n, f in fisher.items() if n in named]
    if not terms:
        return torch.zeros((), device=next(model.parameters()).device)
    return ewc_lambda / 2 * torch.stack(terms).sum()


def merge_penalty_terms(saved: Sequence[tuple[Importance, Importance]]
                        ) -> tuple[Importance, Importance, float]:
    """One ``(F, theta*)`` pair and a constant that give the penalty of all of ``saved``.

    Per parameter, ``sum_k F_k (theta - theta*_k)^2 = S (theta - m)^2 + c`` with
    ``S = sum_k F_k``, ``m = sum_k F_k theta*_k / S`` and ``c = sum_k F_k theta*_k^2 - S m^2``,
    so the penalty after ``T`` experiences costs one term per parameter, not ``T``. The
    constant moves no gradient; it keeps the penalty's value.

    Examples
    --------
    >>> model = nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(0.0)
    >>> saved = [({"weight": torch.tensor([[1.0]])}, {"weight": torch.tensor([[1.0]])}),
    ...          ({"weight": torch.tensor([[3.0]])}, {"weight": torch.tensor([[-1.0]])})]
    >>> fisher, anchor, c = merge_penalty_terms(saved)
    >>> fisher["weight"].item(), anchor["weight"].item(), c
    (4.0, -0.5, 3.0)
    >>> merged = ewc_penalty(model, [(fisher, anchor)], 2.0) + 2.0 / 2 * c
    >>> float(ewc_penalty(model, saved, 2.0)), float(merged)
    (4.0, 4.0)
    """
    if len(saved) == 1:  # nothing to merge: exactly the pair
        fisher, anchor = saved[0]
        return dict(fisher), {n: anchor[n] for n in fisher}, 0.0
    total: Importance = {}
    weighted: Importance = {}
    constant = 0.0
    for fisher, anchor in saved:
        for n, f in fisher.items():
            total[n] = total[n] + f if n in total else f.clone()
            weighted[n] = weighted[n] + f * anchor[n] if n in weighted else f * anchor[n]
            constant += float((f.double() * anchor[n].double() ** 2).sum())
    mean = {n: torch.where(total[n] > 0, weighted[n] / total[n], torch.zeros_like(total[n]))
            for n in total}
    constant -= sum(float((total[n].double() * mean[n].double() ** 2).sum()) for n in total)
    return total, mean, max(constant, 0.0)


class EWCPlugin(SupervisedPlugin):
    """Adds the EWC penalty to every training loss after the first experience.

    Parameters
    ----------
    ewc_lambda : float
        Strength of the penalty, >= 0.
    mode : "separate" or "online", default "separate"
        "separate" keeps one (Fisher, parameters) pair per experience; "online" one
        running Fisher, decayed by ``decay_factor`` before each new one is added, and the
        latest parameters (Schwarz et al., 2018).
    decay_factor : float, optional
        In (0, 1], for mode "online" only (required there).
    keep_importance_data : bool, default False
        In mode "online", also keep every experience's Fisher in ``history`` (separate
        mode always keeps them all).

    Attributes
    ----------
    saved : list of (fisher, parameters)
        What the penalty sums over: one pair per experience, or one in online mode.

    Examples
    --------
    >>> from cltutor import Naive, SimpleMLP, PermutedDigits
    >>> bm = PermutedDigits(n_experiences=2, seed=0)
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> ewc = EWCPlugin(ewc_lambda=100)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), train_mb_size=32,
    ...                  plugins=[ewc], evaluator=None, device="cpu")
    >>> _ = strategy.train(bm.train_stream[0])
    >>> len(ewc.saved), float(ewc.penalty(model))
    (1, 0.0)
    """

    def __init__(self, ewc_lambda: float, mode: str = "separate",
                 decay_factor: float | None = None, keep_importance_data: bool = False) -> None:
        check_lambda("ewc_lambda", ewc_lambda)
        if mode not in ("separate", "online"):
            raise ValueError(f"mode must be 'separate' or 'online', got {mode!r}. Use "
                             f"mode='separate' (one Fisher per experience) or 'online'.")
        if mode == "separate" and decay_factor is not None:
            raise ValueError(f"decay_factor is for mode='online' only, got {decay_factor!r} "
                             f"with mode='separate'. Leave it out, or use mode='online'.")
        if mode == "online":
            if decay_factor is None:
                raise ValueError("decay_factor must be given with mode='online': a number in "
                                 "(0, 1], e.g. decay_factor=0.9.")
            check_number("decay_factor", decay_factor, "Try decay_factor=0.9.", low=0,
                         low_open=True, high=1)
        check_bool("keep_importance_data", keep_importance_data)
        self.ewc_lambda, self.mode, self.decay_factor = ewc_lambda, mode, decay_factor
        self.keep_importance_data = keep_importance_data
        self.saved: list[tuple[Importance, Importance]] = []
        self.history: list[Importance] = []  # every experience's own Fisher, when kept
        self._merged: tuple[Importance, Importance, float] = ({}, {}, 0.0)
        self._merged_from: list[tuple[Importance, Importance]] = []  # the pairs merged

    def penalty(self, model: nn.Module) -> Tensor:
        """The penalty of every pair in ``saved``, from their merged form (one term per
        parameter, see :func:`merge_penalty_terms`), merged again when ``saved`` changes."""
        if len(self.saved) != len(self._merged_from) or any(
                p is not q for p, q in zip(self.saved, self._merged_from, strict=True)):
            self._merged, self._merged_from = merge_penalty_terms(self.saved), list(self.saved)
        fisher, anchor, constant = self._merged
        return ewc_penalty(model, [(fisher, anchor)], self.ewc_lambda) \
            + self.ewc_lambda / 2 * constant

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        if self.saved and self.ewc_lambda > 0:
            strategy.loss = strategy.loss + self.penalty(strategy.model)

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        fisher = fisher_diagonal(strategy.model, strategy.adapted_dataset,
                                 device=strategy.device)
        anchor = {n: p.detach().clone() for n, p in strategy.model.named_parameters()
                  if n in fisher}
        if self.mode == "separate" or self.keep_importance_data:
            self.history.append(fisher)
        if self.mode == "separate":
            self.saved.append((fisher, anchor))
        else:
            if self.saved:  # online: decay the running Fisher, then add this experience's
                old, _ = self.saved[0]
                fisher = {n: f + self.decay_factor * old[n] if n in old else f
                          for n, f in fisher.items()}
            self.saved = [(fisher, anchor)]


class EWC(Naive):
    """Naive with an :class:`EWCPlugin`.

    Parameters are the plugin's (``ewc_lambda``, ``mode``, ``decay_factor``,
    ``keep_importance_data``) and Naive's (``train_mb_size``, ``plugins``, ``seed``...).

    Examples
    --------
    >>> from cltutor import SimpleMLP
    >>> model = SimpleMLP(input_size=64)
    >>> strategy = EWC(model, torch.optim.SGD(model.parameters(), lr=0.05), ewc_lambda=100,
    ...                evaluator=None, device="cpu")
    >>> type(strategy.plugins[-1]).__name__
    'EWCPlugin'
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: Any = None,
                 ewc_lambda: float = 100.0, mode: str = "separate",
                 decay_factor: float | None = None, keep_importance_data: bool = False,
                 plugins: Sequence[SupervisedPlugin] | None = None, **naive_kwargs: Any) -> None:
        self.ewc_plugin = EWCPlugin(ewc_lambda, mode, decay_factor, keep_importance_data)
        plugins = [*check_plugins(plugins), self.ewc_plugin]
        super().__init__(model, optimizer, criterion, plugins=plugins, **naive_kwargs)

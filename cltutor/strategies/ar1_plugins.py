"""The two plugins inside AR1: CWR* for the output layer, Synaptic Intelligence for the rest.

Both work with any strategy whose model has the named output layer; AR1
(:mod:`cltutor.strategies.ar1`) adds them to its plugin list itself. At the end, the
checks of the model AR1 is given and the placeholder it holds until it builds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor.callbacks import SupervisedPlugin
from cltutor.strategies.regularization.si import SynapticIntelligencePlugin  # noqa: E402

__all__ = ["cwr_consolidate", "CWRStarPlugin", "SynapticIntelligencePlugin"]


def cwr_consolidate(
    weights: Tensor, saved: Tensor, past_j: Tensor, cur_j: Tensor
) -> tuple[Tensor, Tensor]:
    """CWR*: fold the output rows trained on this experience into the saved ones.

    For every class ``c`` with ``cur_j[c] > 0``, with ``w = W[c] - mean(W[current])``
    (one scalar: the mean over all entries of the current classes' rows) and
    ``a = sqrt(past_j[c] / cur_j[c])``: ``saved[c] = (saved[c] * a + w) / (a + 1)``.
    A class never seen before (``past_j[c] = 0``) gets ``w``. Counts add up.

    Parameters
    ----------
    weights, saved : Tensor
        Output-layer weights after training, and the consolidated ones, ``(K, D)``.
    past_j, cur_j : Tensor
        Float counts of patterns per class seen before and in this experience, ``(K,)``.

    Returns
    -------
    (saved, past_j) : tuple of Tensor
        The new consolidated weights ``(K, D)`` and counts ``(K,)``.

    Examples
    --------
    >>> import torch
    >>> W = torch.tensor([[1.0, 3.0], [5.0, 7.0], [9.0, 9.0]])   # class 2 not current
    >>> saved, past = cwr_consolidate(W, torch.zeros(3, 2), torch.zeros(3),
    ...                               torch.tensor([10.0, 10.0, 0.0]))
    >>> saved, past                                     # rows minus their mean, 4
    (tensor([[-3., -1.],
            [ 1.,  3.],
            [ 0.,  0.]]), tensor([10., 10.,  0.]))
    """
    cur = cur_j > 0  # (K,)
    w = weights - weights[cur].mean()  # (K, D)
    a = torch.sqrt(past_j / cur_j.clamp(min=1)).unsqueeze(1)  # (K, 1); 0 for new classes
    blended = (saved * a + w) / (a + 1)
    return torch.where(cur.unsqueeze(1), blended, saved), past_j + cur_j


def _has_matrix_weight(module: nn.Module | None) -> bool:
    weight = getattr(module, "weight", None)
    return isinstance(weight, Tensor) and weight.ndim == 2


def _output_weight(model: nn.Module, layer_name: str) -> Tensor:
    """The weight ``(K, D)`` of ``model``'s layer ``layer_name``; an error listing its layers."""
    layers = dict(model.named_modules())
    if _has_matrix_weight(layers.get(layer_name)):
        return layers[layer_name].weight
    usable = [n for n, m in layers.items() if _has_matrix_weight(m)]
    fix = f"Try CWRStarPlugin({usable[-1]!r})." if usable else "Give it an nn.Linear output."
    raise ValueError(
        f"layer_name must name the model's output layer (a module with a 2-D weight, as "
        f"nn.Linear), got {layer_name!r}. {type(model).__name__}'s layers: "
        f"{', '.join(n for n in layers if n) or 'none'}; with a 2-D weight: "
        f"{', '.join(usable) or 'none'}. {fix}"
    )


def _check_labels_fit(labels: Sequence[Tensor], k: int, layer_name: str) -> None:
    """Every label indexes one of the ``k`` output rows (CWR* counts patterns per row)."""
    top = max((int(y.max()) for y in labels if len(y)), default=-1)
    if top >= k:
        raise ValueError(
            f"num_classes must be more than the largest label ({top}), got {k} (the rows of "
            f"the output layer {layer_name!r}). Build the model with "
            "num_classes=benchmark.n_classes; AR1 also takes num_classes=None, which counts "
            "the stream's classes."
        )


class CWRStarPlugin(SupervisedPlugin):
    """CWR*: class-wise consolidation of the output layer (Lomonaco et al., 2019).

    Before each experience the output rows of the classes present (in the data,
    and in AR1's latent memory ``strategy.rm`` when there is one) are reset to
    their consolidated values, or to 0 for new classes; every other row is set
    to 0. After the experience :func:`cwr_consolidate` folds the trained rows
    into the consolidated ones, which the model then uses. Only the weight is
    consolidated (AR1's output layer has no bias).

    Parameters
    ----------
    layer_name : str, default "output"
        The ``nn.Linear`` output layer, as ``model.get_submodule(layer_name)``.

    Attributes
    ----------
    saved_weights : Tensor
        Consolidated weights ``(K, D)``.
    past_j, cur_j : Tensor
        Patterns per class seen before / in the current experience, ``(K,)``.

    Examples
    --------
    >>> from cltutor.strategies.ar1 import AR1
    >>> strategy = AR1(evaluator=None, device="cpu")
    >>> strategy.cwr_plugin.layer_name
    'output'

    Notebook ``07_ar1_latent_replay.ipynb`` shows the consolidated rows.
    """

    def __init__(self, layer_name: str = "output") -> None:
        if not isinstance(layer_name, str):
            raise TypeError(f"layer_name must be the name of the model's output layer (a str), "
                            f"got {layer_name!r}. Try CWRStarPlugin('output').")
        self.layer_name = layer_name
        self.saved_weights: Tensor | None = None  # (K, D)
        self.past_j: Tensor | None = None  # (K,)
        self.cur_j: Tensor | None = None  # (K,)

    def _weight(self, strategy: Any) -> Tensor:
        return _output_weight(strategy.model, self.layer_name)  # (K, D)

    def before_training(self, strategy: Any, **kwargs: Any) -> None:
        self._weight(strategy)  # a wrong layer_name fails here, before any training

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        weight = self._weight(strategy)
        k = weight.shape[0]
        if self.saved_weights is None:
            self.saved_weights = torch.zeros_like(weight.detach())
            self.past_j = weight.new_zeros(k)
        labels = [strategy.experience.dataset.targets]
        if hasattr(strategy, "rm"):  # AR1 also counts the classes it replays
            labels.append(strategy.rm[1])
        _check_labels_fit(labels, k, self.layer_name)
        self.cur_j = sum(
            torch.bincount(y.to(weight.device), minlength=k).to(weight.dtype) for y in labels
        )
        keep = ((self.cur_j > 0) & (self.past_j > 0)).unsqueeze(1)  # (K, 1)
        with torch.no_grad():
            weight.copy_(torch.where(keep, self.saved_weights, torch.zeros_like(weight)))

    @torch.no_grad()
    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        weight = self._weight(strategy)
        self.saved_weights, self.past_j = cwr_consolidate(
            weight, self.saved_weights, self.past_j, self.cur_j
        )
        seen = (self.past_j > 0).unsqueeze(1)  # (K, 1)
        weight.copy_(torch.where(seen, self.saved_weights, weight))


# -- the model AR1 is given, or the placeholder until it builds one ----------------
class NotBuiltNet(nn.Module):
    """Stands in for the network AR1 builds when it sees its first experience."""

    def __init__(self) -> None:
        super().__init__()
        self.placeholder = nn.Parameter(torch.zeros(0))

    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError(
            "AR1 builds its network at the first train() call, from the input shape; "
            "call train() before eval(), or pass model=LatentReplayNet(...)."
        )


def check_ar1_model(model: Any, freeze_below_layer: str, num_classes: int | None = None) -> None:
    """``model`` has AR1's three parts, ``freeze_below_layer`` names one of its layers and
    ``num_classes`` (when given) is its number of outputs."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}.")
    parts = {"lat_features": nn.Module, "end_features": nn.Module, "output": nn.Linear}
    for name, kind in parts.items():
        if not isinstance(getattr(model, name, None), kind):
            raise TypeError(
                f"model must have lat_features and end_features modules and an nn.Linear "
                f"output (model(x) = output(end_features(lat_features(x)))); its {name} is "
                f"{type(getattr(model, name, None)).__name__}. Use model=None to get a "
                "LatentReplayNet."
            )
    outputs = model.output.out_features
    if num_classes is not None and num_classes != outputs:
        raise ValueError(
            f"num_classes must be None or the model's {outputs} outputs when a model is given, "
            f"got {num_classes}. Leave num_classes=None, or give a model with {num_classes}."
        )
    name = freeze_below_layer
    if not any(n == name or n.startswith(name + ".") for n, _ in model.named_parameters()):
        layers = dict.fromkeys(n.rpartition(".")[0] for n, _ in model.named_parameters())
        raise ValueError(
            f"freeze_below_layer={name!r} names no layer of the model. Use a module or "
            "parameter name from model.named_parameters(); the layers with parameters, in "
            f"order: {', '.join(layers)}."
        )

"""Exemplar selection: how a :class:`~cltutor.memory.parametric.ParametricBuffer` ranks a group.

A selection strategy ranks the candidates of one buffer group, best first; the
buffer keeps as many as the group's quota allows. Random selection ignores the
data. Feature-based selection runs the model up to ``layer_name`` and ranks the
feature vectors:

* herding (iCaRL) adds, one at a time, the item that brings the mean of the
  chosen features closest to the mean of all features, :func:`herding_order`;
* closest-to-center keeps the items nearest to the mean feature,
  :func:`closest_to_center_order`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_bool, check_int_range, make_generator
from cltutor.data.dataset import ClassificationDataset
from cltutor.models import model_output

__all__ = [
    "ExemplarsSelectionStrategy",
    "RandomExemplarsSelectionStrategy",
    "FeatureBasedExemplarsSelectionStrategy",
    "HerdingSelectionStrategy",
    "ClosestToCenterSelectionStrategy",
    "herding_order",
    "closest_to_center_order",
    "extract_features",
    "make_selection_strategy",
]

FEATURE_BATCH_SIZE = 256  # used when the strategy has no eval_mb_size


def _how_many(k: int | None, n: int) -> int:
    """Items to choose among ``n``: all for ``k=None``, else ``k`` (checked) up to ``n``."""
    if k is None:
        return n
    check_int_range("k", k, 0, None, "Use k=None to rank all items.")
    return min(k, n)


# -- the maths -----------------------------------------------------------------
def herding_order(features: Tensor, k: int | None = None) -> Tensor:
    """The first ``k`` items chosen by herding, in the order they are chosen.

    Step ``i`` picks the unchosen ``j`` that minimises
    ``|| (S + f_j) / (i + 1) - mu ||^2`` where ``S`` sums the features chosen so far
    and ``mu`` is the mean of all features. Expanding the square, this is the
    argmin of ``score_j = |f_j|^2 + 2 f_j . (S - (i + 1) mu)``; choosing ``f_c``
    changes every score by ``2 f_j . (f_c - mu)``, one matrix-vector product.
    So ``k`` steps cost ``O(k n d)``, and the loop stops after ``k`` picks.

    Parameters
    ----------
    features : Tensor, shape ``(n, ...)``
        One feature vector per item (flattened to ``(n, d)``).
    k : int, optional
        How many items to choose; None chooses all ``n`` (a full ranking).

    Returns
    -------
    Tensor of shape ``(k,)``, long, on the device of ``features``.
    """
    f = features.flatten(1)  # (n, d)
    n = f.shape[0]
    k = _how_many(k, n)
    mu = f.mean(0)  # (d,)
    score = (f * f).sum(1)  # (n,): the scores before any pick (S = 0, i = 0)
    score.addmv_(f, mu, alpha=-2.0)
    chosen = torch.empty(k, dtype=torch.long, device=f.device)
    for i in range(k):
        j = torch.argmin(score).view(1)  # (1,), stays on the device (no host sync)
        chosen[i] = j[0]
        score.index_fill_(0, j, float("inf"))  # never picked again: inf + x stays inf
        score.addmv_(f, f.index_select(0, j)[0] - mu, alpha=2.0)
    return chosen


def closest_to_center_order(features: Tensor, k: int | None = None) -> Tensor:
    """The ``k`` items whose features are nearest to the mean feature, nearest first.

    Returns a long tensor of shape ``(k,)``; ties keep the lower index first.
    """
    f = features.flatten(1)  # (n, d)
    k = _how_many(k, f.shape[0])
    dist = (f - f.mean(0)).pow(2).sum(1)  # (n,) squared distance to the mean
    return torch.argsort(dist, stable=True)[:k]


class _Captured(Exception):
    """Raised by the forward hook to skip the layers above ``layer_name``."""


def _named_module(model: nn.Module, layer_name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if layer_name not in modules or layer_name == "":
        names = [name for name in modules if name][:8]
        raise ValueError(
            f"layer_name must name a submodule of the model, got {layer_name!r}. "
            f"Some valid names: {names}. Use layer_name='features' for cltutor's models."
        )
    return modules[layer_name]


def _unfit_model(model: nn.Module, layer_name: str, x: Tensor, err: Exception) -> ValueError:
    """The error for a model whose input size does not fit the buffer's data."""
    shape, torch_says = tuple(x.shape[1:]), str(err).splitlines()[0]
    return ValueError(
        f"model {type(model).__name__} cannot compute features at layer_name={layer_name!r} "
        f"for data of per-sample shape {shape} {x.dtype} (torch: {torch_says}). Build "
        f"the model for these inputs (for SimpleMLP: input_size={math.prod(shape)})."
    )


@torch.no_grad()
def extract_features(
    model: nn.Module,
    layer_name: str,
    data: ClassificationDataset,
    batch_size: int = FEATURE_BATCH_SIZE,
) -> Tensor:
    """Outputs of ``model``'s submodule ``layer_name`` on all of ``data``, shape ``(n, d)``.

    Runs in eval mode and without gradients, ``batch_size`` items at a time, on the
    model's device; the forward pass stops at ``layer_name``. The model's
    train/eval mode (module by module) is restored afterwards.
    """
    check_int_range("batch_size", batch_size, 1, None, f"Try batch_size={FEATURE_BATCH_SIZE}.")
    module = _named_module(model, layer_name)
    param = next(model.parameters(), None)
    device = param.device if param is not None else data.device
    captured: list[Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
        captured.append(output.flatten(1))  # (B, d)
        raise _Captured

    modes = [(m, m.training) for m in model.modules()]
    handle = module.register_forward_hook(hook)
    model.eval()
    try:
        for idx in torch.arange(len(data), device=data.device).split(batch_size):
            x, _, t = data.get_batch(idx)
            try:
                model_output(model, x.to(device), t.to(device))  # stops at layer_name
            except _Captured:
                pass
            except (RuntimeError, IndexError) as err:  # a shape or dtype mismatch in torch
                raise _unfit_model(model, layer_name, x, err) from err
    finally:
        handle.remove()
        for m, mode in modes:
            m.train(mode)
    if not captured:
        return torch.zeros(0, 0, device=device)
    return torch.cat(captured)  # (n, d)


# -- strategies ----------------------------------------------------------------
class ExemplarsSelectionStrategy:
    """Base class: rank the items of a dataset, the ones to keep first.

    Subclasses implement :meth:`make_sorted_indices`.
    """

    def make_sorted_indices(
        self, strategy: Any, data: ClassificationDataset, k: int | None = None
    ) -> Tensor:
        """Positions of the ``k`` items to keep (all when None), best first."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_sorted_indices(strategy, data, k)."
        )


class RandomExemplarsSelectionStrategy(ExemplarsSelectionStrategy):
    """Keep a uniformly random subset.

    Parameters
    ----------
    seed : int, optional
        Seeds the draws; None uses torch's global generator.

    Examples
    --------
    >>> import torch
    >>> from cltutor.data import ClassificationDataset
    >>> ds = ClassificationDataset(torch.rand(10, 2), torch.zeros(10))
    >>> idx = RandomExemplarsSelectionStrategy(seed=0).make_sorted_indices(None, ds, k=3)
    >>> len(idx), len(set(idx.tolist()))
    (3, 3)

    Notebook ``03_buffers.ipynb`` compares it with herding.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._generator = make_generator(seed)

    def make_sorted_indices(
        self, strategy: Any, data: ClassificationDataset, k: int | None = None
    ) -> Tensor:
        n = len(data)
        return torch.randperm(n, generator=self._generator)[: _how_many(k, n)]


class FeatureBasedExemplarsSelectionStrategy(ExemplarsSelectionStrategy):
    """Rank items by the features that ``model`` computes at ``layer_name``.

    Features are computed in eval mode, without gradients, in batches of the
    strategy's ``eval_mb_size`` (256 when it has none). Subclasses implement
    :meth:`make_sorted_indices_from_features`.

    Parameters
    ----------
    model : nn.Module
        The model being trained (the buffer sees its current features).
    layer_name : str
        A name from ``model.named_modules()``, e.g. ``"features"``.
    """

    def __init__(self, model: nn.Module, layer_name: str) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"model must be a torch.nn.Module, got {type(model).__name__}. Pass the "
                f"model the strategy trains."
            )
        _named_module(model, layer_name)  # fail fast on a wrong name
        self.model = model
        self.layer_name = layer_name

    def make_sorted_indices(
        self, strategy: Any, data: ClassificationDataset, k: int | None = None
    ) -> Tensor:
        batch_size = getattr(strategy, "eval_mb_size", None) or FEATURE_BATCH_SIZE
        features = extract_features(self.model, self.layer_name, data, batch_size)
        return self.make_sorted_indices_from_features(features, k)

    def make_sorted_indices_from_features(self, features: Tensor, k: int | None = None) -> Tensor:
        """Positions of the ``k`` items to keep, best first, from features ``(n, d)``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_sorted_indices_from_features."
        )


class HerdingSelectionStrategy(FeatureBasedExemplarsSelectionStrategy):
    """Herding (iCaRL): the chosen items' mean feature tracks the group's mean.

    See :func:`herding_order`; selection stops once the quota is filled. With
    ``normalize=True`` every feature is scaled to unit L2 norm first, as iCaRL does (its
    nearest-mean classifier compares directions); the default keeps the raw features.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP
    >>> from cltutor.data import ClassificationDataset
    >>> model = SimpleMLP(num_classes=2, input_size=4, hidden_size=8)
    >>> ds = ClassificationDataset(torch.rand(20, 4), torch.zeros(20))
    >>> HerdingSelectionStrategy(model, "features").make_sorted_indices(None, ds, k=5).shape
    torch.Size([5])

    Notebook ``03_buffers.ipynb`` shows which digits herding keeps.
    """

    def __init__(self, model: nn.Module, layer_name: str, normalize: bool = False) -> None:
        super().__init__(model, layer_name)
        check_bool("normalize", normalize)
        self.normalize = normalize

    def make_sorted_indices_from_features(self, features: Tensor, k: int | None = None) -> Tensor:
        if self.normalize:
            f = features.flatten(1)  # (n, d)
            features = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return herding_order(features, k)


class ClosestToCenterSelectionStrategy(FeatureBasedExemplarsSelectionStrategy):
    """Keep the items whose features are closest to the group's mean feature.

    Examples
    --------
    >>> import torch
    >>> from cltutor import SimpleMLP
    >>> from cltutor.data import ClassificationDataset
    >>> model = SimpleMLP(num_classes=2, input_size=4, hidden_size=8)
    >>> ds = ClassificationDataset(torch.rand(20, 4), torch.zeros(20))
    >>> strategy = ClosestToCenterSelectionStrategy(model, "features")
    >>> strategy.make_sorted_indices(None, ds, k=5).shape
    torch.Size([5])

    Notebook ``03_buffers.ipynb`` shows which digits it keeps.
    """

    def make_sorted_indices_from_features(self, features: Tensor, k: int | None = None) -> Tensor:
        return closest_to_center_order(features, k)


SELECTIONS = ("random", "herding", "closest-to-center")


def make_selection_strategy(
    name: str,
    model: nn.Module | None = None,
    layer_name: str | None = None,
    seed: int | None = None,
) -> ExemplarsSelectionStrategy:
    """Build a selection strategy by name: ``"random"``, ``"herding"``, ``"closest-to-center"``.

    The feature-based ones need ``model``; ``layer_name`` defaults to ``"features"``.
    """
    if name == "random":
        return RandomExemplarsSelectionStrategy(seed=seed)
    if name not in SELECTIONS:
        raise ValueError(f"selection must be one of {list(SELECTIONS)}, got {name!r}.")
    if model is None:
        raise ValueError(
            f"selection={name!r} ranks items by the model's features, so it needs model=; "
            f"pass the model you train (or use selection='random')."
        )
    layer_name = "features" if layer_name is None else layer_name
    if name == "herding":
        return HerdingSelectionStrategy(model, layer_name)
    return ClosestToCenterSelectionStrategy(model, layer_name)

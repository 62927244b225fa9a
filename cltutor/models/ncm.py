"""Nearest-mean-of-exemplars classification (iCaRL) and the model that trains one head and
tests with another.

A linear head forgets because its weights for old classes stop being trained while the
new classes' weights grow. iCaRL sidesteps it at test time: keep a few exemplars per class,
take the mean of their (L2-normalised) features, and label an input by the nearest mean.
No weights of a head are involved, so none can drift; only the features can.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cltutor._checks import check_bool

__all__ = ["class_means", "NCMClassifier", "TrainEvalModel"]


def _unit(f: Tensor) -> Tensor:
    """Rows of ``f`` scaled to unit L2 norm (a zero row stays zero)."""
    return f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)


def class_means(features: Tensor, labels: Tensor, normalize: bool = True) -> dict[int, Tensor]:
    """The mean feature of each class: ``{class: (d,) tensor}``.

    With ``normalize`` (iCaRL) every feature is scaled to unit length first and the mean is
    scaled to unit length again, so that only directions count.

    Examples
    --------
    >>> f = torch.tensor([[2.0, 0.0], [0.0, 1.0], [4.0, 0.0]])
    >>> {c: m.tolist() for c, m in class_means(f, torch.tensor([0, 1, 0])).items()}
    {0: [1.0, 0.0], 1: [0.0, 1.0]}
    """
    f = features.flatten(1)  # (n, d)
    f = _unit(f) if normalize else f
    means = {}
    for c in torch.unique(labels).tolist():
        mean = f[labels == c].mean(0)  # (d,)
        means[c] = _unit(mean.view(1, -1))[0] if normalize else mean
    return means


class NCMClassifier(nn.Module):
    """Label an input by the nearest class mean: ``logits[:, c] = -|| f - mu_c ||``.

    Avalanche's ``NCMClassifier``. It learns nothing by gradient: give it the means with
    :meth:`update_class_means_dict` (or :meth:`replace_class_means_dict`). With
    ``normalize`` the input features are L2-normalised first, as the means of
    :func:`class_means` are. A class without a mean gets the logit ``-inf``: it is never
    predicted (and a row of that class has an infinite loss).

    Parameters
    ----------
    normalize : bool, default True

    Examples
    --------
    >>> ncm = NCMClassifier(normalize=False)
    >>> ncm.replace_class_means_dict({0: torch.tensor([0.0, 0.0]), 2: torch.tensor([4.0, 0.0])})
    >>> ncm(torch.tensor([[1.0, 1.0], [3.0, 0.0]])).argmax(1).tolist()
    [0, 2]

    Notebook ``11_beyond_replay.ipynb`` classifies the digits with it.
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        check_bool("normalize", normalize)
        self.normalize = normalize
        self.class_means_dict: dict[int, Tensor] = {}
        self.register_buffer("class_means", torch.zeros(0, 0))  # (max class + 1, d)
        self.register_buffer("has_mean", torch.zeros(0, dtype=torch.bool))  # (max class + 1,)

    def update_class_means_dict(self, class_means_dict: dict[int, Tensor],
                                momentum: float = 0.0) -> None:
        """Set the means of the classes given (``momentum`` keeps that share of an old one)."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}. Use 0 to replace.")
        for c, mean in class_means_dict.items():
            if int(c) < 0:
                raise ValueError(f"class ids must be >= 0, got {c}.")
            old = self.class_means_dict.get(int(c))
            mean = mean.detach().flatten()
            if old is not None and momentum:
                mean = momentum * old.to(mean.device) + (1 - momentum) * mean
            self.class_means_dict[int(c)] = mean
        self._stack()

    def replace_class_means_dict(self, class_means_dict: dict[int, Tensor]) -> None:
        """Forget every mean, then set these."""
        self.class_means_dict = {}
        self.update_class_means_dict(class_means_dict)

    def _stack(self) -> None:
        means = self.class_means_dict
        sizes = {c: len(m) for c, m in means.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"every class mean must have one length (the feature size), got "
                             f"{sizes}.")
        d = next(iter(sizes.values()))
        device = next(iter(means.values())).device
        stacked = torch.zeros(max(means) + 1, d, device=device)
        has = torch.zeros(max(means) + 1, dtype=torch.bool, device=device)
        for c, m in means.items():
            stacked[c], has[c] = m, True
        self.class_means, self.has_mean = stacked, has

    def forward(self, x: Tensor) -> Tensor:
        """``(B, max class + 1)`` minus the distance from each row of ``x`` to each mean."""
        if not self.class_means_dict:
            raise RuntimeError("NCMClassifier has no class means yet: call "
                               "update_class_means_dict({class: mean, ...}) first.")
        f = x.flatten(1)  # (B, d)
        f = _unit(f) if self.normalize else f
        means = self.class_means.to(f.device, f.dtype)
        logits = -torch.cdist(f, means)  # (B, C)
        return logits.masked_fill(~self.has_mean.to(f.device), float("-inf"))


class TrainEvalModel(nn.Module):
    """``feature_extractor`` followed by ``train_classifier`` in training and by
    ``eval_classifier`` in evaluation (Avalanche's ``TrainEvalModel``, as iCaRL uses it).

    Examples
    --------
    >>> model = TrainEvalModel(nn.Flatten(), nn.Linear(4, 2), NCMClassifier())
    >>> model.eval_classifier.replace_class_means_dict({0: torch.ones(4), 1: -torch.ones(4)})
    >>> model.train()(torch.ones(3, 2, 2)).shape, model.eval()(torch.ones(3, 2, 2)).argmax(1)
    (torch.Size([3, 2]), tensor([0, 0, 0]))
    """

    def __init__(self, feature_extractor: nn.Module, train_classifier: nn.Module,
                 eval_classifier: nn.Module) -> None:
        super().__init__()
        for name, module in (("feature_extractor", feature_extractor),
                             ("train_classifier", train_classifier),
                             ("eval_classifier", eval_classifier)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch nn.Module, got {type(module).__name__}.")
        self.feature_extractor = feature_extractor
        self.train_classifier = train_classifier
        self.eval_classifier = eval_classifier

    def forward(self, x: Tensor) -> Tensor:
        features = self.feature_extractor(x)
        head = self.train_classifier if self.training else self.eval_classifier
        return head(features)

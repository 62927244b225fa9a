"""A-GEM: keep the loss on an episodic memory from going up (Chaudhry et al., 2019).

A-GEM stores a few random patterns of every past experience. Before each
training step it computes the *reference gradient* ``g_ref``: the gradient of
the loss on a random memory batch, balanced across the past experiences. After
the backward pass, if the current gradient ``g`` points against it
(``g . g_ref < 0``, the step would increase the memory loss to first order), ``g``
is replaced by its projection onto the half-space where the memory loss does not
increase::

    g <- g - (g . g_ref / g_ref . g_ref) * g_ref

Gradients are flattened over all trainable parameters into one vector
(``torch.cat``), so the projection is a handful of vector operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_positive_int, make_generator
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import ClassificationDataset
from cltutor.models import model_output
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["project_gradient", "memory_quotas", "AGEMPlugin", "AGEM"]


def project_gradient(g: Tensor, g_ref: Tensor) -> Tensor:
    """A-GEM's projection of a gradient ``g`` against a reference gradient ``g_ref``.

    Returns ``g`` unchanged (as a new tensor) when ``g . g_ref >= 0``, else
    ``g - (g . g_ref / g_ref . g_ref) g_ref``, whose dot product with ``g_ref`` is 0.
    Sync-free: no Python branch on a tensor value.

    Parameters
    ----------
    g, g_ref : Tensor
        Gradients of the same shape (usually flat vectors over all parameters).

    Examples
    --------
    >>> import torch
    >>> project_gradient(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]))
    tensor([0.5000, 0.5000])
    >>> project_gradient(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))
    tensor([1., 0.])
    """
    if not isinstance(g, Tensor) or not isinstance(g_ref, Tensor):
        raise TypeError(
            f"g and g_ref must be tensors, got {type(g).__name__} and {type(g_ref).__name__}."
        )
    if g.shape != g_ref.shape:
        raise ValueError(
            f"g and g_ref must have the same shape, got {tuple(g.shape)} and "
            f"{tuple(g_ref.shape)}; flatten both over the same parameters."
        )
    dot = torch.dot(g.flatten(), g_ref.flatten())  # ()
    ref_sq = torch.dot(g_ref.flatten(), g_ref.flatten())  # ()
    # dot < 0 implies ref_sq > 0; the floor only guards 0 / 0 when g_ref is all zeros.
    coef = dot.clamp(max=0) / ref_sq.clamp(min=torch.finfo(ref_sq.dtype).tiny)
    return g - coef * g_ref


def memory_quotas(sample_size: int, sizes: Sequence[int]) -> list[int]:
    """Patterns to draw from each experience's memory for one reference batch.

    ``sample_size // n`` each, one more for the first ``sample_size % n``
    experiences, never more than a memory holds.

    >>> memory_quotas(10, [50, 50, 50]), memory_quotas(10, [2, 50])
    ([4, 3, 3], [2, 5])
    """
    q, r = divmod(sample_size, len(sizes))
    return [min(q + (i < r), n) for i, n in enumerate(sizes)]


def _flat_grad(params: Sequence[nn.Parameter]) -> Tensor:
    """All gradients in one vector, zeros for parameters without one. Shape (P,)."""
    return torch.cat(
        [p.grad.flatten() if p.grad is not None else p.new_zeros(p.numel()) for p in params]
    )


class AGEMPlugin(SupervisedPlugin):
    """Average Gradient Episodic Memory as a plugin for any strategy.

    Parameters
    ----------
    patterns_per_experience : int
        Random patterns stored from each experience (the memory grows by this
        much per experience and never shrinks).
    sample_size : int
        Patterns in the memory batch of each reference gradient, split evenly
        over the past experiences (``sample_size // n`` each, the remainder to
        the first ones).
    seed : int, optional
        Seeds the memory choice and the memory batches; None draws from torch's
        global generator.

    Attributes
    ----------
    buffers : list of ClassificationDataset
        One memory per past experience, on the training device.
    n_steps, n_projections : int
        Training steps that had a memory to check against, and how many of them
        were projected.
    history : list of dict
        One entry per trained experience: ``experience``, ``steps``,
        ``projections``, ``rate``.

    Examples
    --------
    >>> import torch
    >>> from cltutor import PermutedDigits, SimpleMLP
    >>> from cltutor.strategies.base import Naive
    >>> bm = PermutedDigits(n_experiences=2, seed=0)
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> agem = AGEMPlugin(patterns_per_experience=50, sample_size=20, seed=0)
    >>> strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                  train_mb_size=32, plugins=[agem], evaluator=None, device="cpu")
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> [len(b) for b in agem.buffers], agem.n_steps
    ([50, 50], 45)

    Notebook ``06_agem.ipynb`` plots how often the projection fires.
    """

    def __init__(
        self, patterns_per_experience: int, sample_size: int, seed: int | None = None
    ) -> None:
        check_positive_int("patterns_per_experience", patterns_per_experience,
                           "Try patterns_per_experience=256.")
        check_positive_int("sample_size", sample_size, "Try sample_size=64.")
        self.patterns_per_experience = patterns_per_experience
        self.sample_size = sample_size
        self.seed = seed
        self._generator = make_generator(seed)
        self.buffers: list[ClassificationDataset] = []
        self.reference_gradients: Tensor | None = None  # (P,)
        self.history: list[dict[str, float]] = []
        self._trainable: list[nn.Parameter] = []
        self._projected: list[bool] = []  # one per step of this experience

    # -- what the notebooks plot ----------------------------------------------
    @property
    def n_steps(self) -> int:
        return sum(int(h["steps"]) for h in self.history) + len(self._projected)

    @property
    def n_projections(self) -> int:
        return sum(int(h["projections"]) for h in self.history) + sum(self._projected)

    @property
    def projection_rates(self) -> dict[int, float]:
        """``{experience: fraction of its steps projected}``, experiences with a memory only."""
        return {int(h["experience"]): h["rate"] for h in self.history if h["steps"] > 0}

    # -- memory ------------------------------------------------------------------
    def sample_memory(self) -> tuple[Tensor, Tensor, Tensor]:
        """A random memory batch ``(x, y, t)``, balanced across past experiences."""
        quotas = memory_quotas(self.sample_size, [len(b) for b in self.buffers])
        parts = [buffer.get_batch(torch.randperm(len(buffer), generator=self._generator)[:k])
                 for buffer, k in zip(self.buffers, quotas, strict=True) if k > 0]
        return tuple(torch.cat(column) for column in zip(*parts, strict=True))  # (k, ...)

    def update_memory(self, dataset: ClassificationDataset, device: torch.device) -> None:
        """Store ``patterns_per_experience`` random patterns of ``dataset`` on ``device``."""
        idx = torch.randperm(len(dataset), generator=self._generator)
        self.buffers.append(dataset.subset(idx[: self.patterns_per_experience]).to(device))

    # -- callbacks ---------------------------------------------------------------
    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self._projected = []

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        """Compute ``g_ref``, the gradient of the plain loss on a memory batch."""
        if not self.buffers:
            return
        model = strategy.model
        self._trainable = [p for p in model.parameters() if p.requires_grad]
        strategy.optimizer.zero_grad(set_to_none=True)
        x_ref, y_ref, t_ref = self.sample_memory()  # old tasks' rows go to their own heads
        strategy._criterion(model_output(model, x_ref, t_ref), y_ref).backward()
        self.reference_gradients = _flat_grad(self._trainable)  # (P,)
        strategy.optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def after_backward(self, strategy: Any, **kwargs: Any) -> None:
        """Project the current gradient when it opposes ``g_ref``."""
        if not self.buffers:
            return
        g = _flat_grad(self._trainable)  # (P,)
        projected = bool(torch.dot(g, self.reference_gradients) < 0)  # one host sync
        self._projected.append(projected)
        if not projected:
            return
        g = project_gradient(g, self.reference_gradients)
        sizes = [p.numel() for p in self._trainable]
        for p, chunk in zip(self._trainable, g.split(sizes), strict=True):
            if p.grad is not None:  # parameters the current loss did not reach stay None
                p.grad.copy_(chunk.view_as(p))

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        steps, projections = len(self._projected), sum(self._projected)
        self.history.append({
            "experience": strategy.experience.current_experience,
            "steps": steps,
            "projections": projections,
            "rate": projections / steps if steps else 0.0,
        })
        self._projected = []
        self.update_memory(strategy.experience.dataset, strategy.device)


class AGEM(Naive):
    """A-GEM: ``Naive`` plus an :class:`AGEMPlugin`.

    Parameters
    ----------
    model, optimizer, criterion
        As :class:`~cltutor.strategies.base.Naive`.
    patterns_per_experience : int
        Patterns stored per experience.
    sample_size : int, default 64
        Patterns per reference batch.
    seed : int, optional
        Seeds the minibatch order and the memory sampling.
    **naive_kwargs
        ``train_mb_size``, ``train_epochs``, ``eval_mb_size``, ``device``,
        ``plugins`` (run before A-GEM's), ``evaluator``, ``eval_every``.

    Examples
    --------
    >>> import torch
    >>> from cltutor import PermutedDigits, SimpleMLP
    >>> bm = PermutedDigits(n_experiences=2, seed=0)
    >>> model = SimpleMLP(input_size=64, hidden_size=32)
    >>> strategy = AGEM(model, torch.optim.SGD(model.parameters(), lr=0.05),
    ...                 patterns_per_experience=50, sample_size=20, train_mb_size=32,
    ...                 evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream:
    ...     _ = strategy.train(exp)
    >>> len(strategy.agem_plugin.buffers)
    2

    Notebook ``06_agem.ipynb`` compares it with Naive on PermutedDigits.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: Any = None,
        *,
        patterns_per_experience: int,
        sample_size: int = 64,
        plugins: Sequence[SupervisedPlugin] | None = None,
        seed: int | None = None,
        **naive_kwargs: Any,
    ) -> None:
        self.agem_plugin = AGEMPlugin(patterns_per_experience, sample_size, seed=seed)
        plugins = [*check_plugins(plugins), self.agem_plugin]  # plugins=P() is refused
        super().__init__(
            model, optimizer, criterion, plugins=plugins, seed=seed, **naive_kwargs
        )

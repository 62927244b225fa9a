"""Device-side sums of an evaluation: what the ``EvaluationPlugin`` adds up as it goes.

:class:`Tally` sums the hits and losses of minibatches on their device and reads
them back with one host synchronisation; :class:`StreamTotals` adds up, on the
host, what one ``eval()`` call measured on the experiences of one stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["Tally", "StreamTotals"]


class Tally:
    """Hits and losses of minibatches, summed on their device.

    ``add`` only keeps references (about two microseconds); every few
    thousand output values the pending minibatches are folded into device
    sums with a handful of tensor ops, and ``totals`` reads the sums back
    with a single host synchronisation. So an epoch's accuracy costs one
    sync instead of one per minibatch, and no small op per minibatch.

    Examples
    --------
    >>> import torch
    >>> tally = Tally()
    >>> tally.add(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor(0.5))
    >>> tally.add(torch.tensor([[0.0, 3.0]]), torch.tensor([1]), torch.tensor(0.25))
    >>> tally.totals()  # 2 of 3 right; loss 0.5 * 2 + 0.25 * 1
    (2.0, 1.25, 3)
    """

    #: Pending output values that trigger a fold; small enough that the CPU
    #: reduction stays on one thread (torch splits ops on more than 32768).
    CHUNK_ELEMENTS = 16384

    __slots__ = ("outputs", "ys", "losses", "sizes", "pending", "correct", "loss_sum", "n",
                 "missing_loss")

    def __init__(self) -> None:
        self.outputs: list[Tensor] = []
        self.ys: list[Tensor] = []
        self.losses: list[Tensor] = []
        self.sizes: list[int] = []
        self.pending = 0  # output values waiting for the next fold
        self.correct: Tensor | None = None  # device scalars
        self.loss_sum: Tensor | None = None
        self.n = 0
        self.missing_loss = False  # True once a minibatch came without a loss

    def add(self, output: Tensor, y: Tensor, loss: Tensor | None) -> None:
        """Record one minibatch: logits ``(B, C)`` (or labels ``(B,)``), labels ``(B,)``."""
        self.outputs.append(output.detach())  # detached: no autograd graph stays alive
        self.ys.append(y)
        self.sizes.append(y.shape[0])
        if loss is None:
            self.missing_loss = True
        else:
            self.losses.append(loss.detach())  # the minibatch's mean loss
        self.pending += output.numel()
        if self.pending >= self.CHUNK_ELEMENTS:
            self._fold()

    def _fold(self) -> None:
        """Add the pending minibatches to the device sums (no host synchronisation)."""
        if not self.outputs:
            return
        try:
            out = torch.cat(self.outputs)  # (sum B, C)
            pred = out.argmax(1) if out.ndim > 1 else out
        except RuntimeError:  # outputs of different widths, or logits mixed with labels
            pred = torch.cat([o.argmax(1) if o.ndim > 1 else o for o in self.outputs])
        hits = (pred == torch.cat(self.ys)).sum().double()
        self.correct = hits if self.correct is None else self.correct + hits
        if not self.missing_loss:
            try:
                losses = torch.stack(self.losses)  # (I,) or (I, 1): one loss per minibatch
            except RuntimeError:  # mixed shapes such as () and (1,)
                losses = torch.stack([loss.reshape(-1).mean() for loss in self.losses])
            losses = losses.reshape(len(self.sizes), -1).mean(1).double()
            weights = torch.tensor(self.sizes, dtype=torch.double, device=losses.device)
            total = losses @ weights  # sum over minibatches of mean loss x size
            self.loss_sum = total if self.loss_sum is None else self.loss_sum + total
        self.n += sum(self.sizes)
        self.outputs, self.ys, self.losses, self.sizes, self.pending = [], [], [], [], 0

    def totals(self) -> tuple[float, float, int]:
        """(correct, loss sum, patterns), with a single host synchronisation."""
        self._fold()
        if self.n == 0:
            return 0.0, float("nan"), 0
        loss_sum = self.loss_sum
        if self.missing_loss or loss_sum is None:
            loss_sum = torch.tensor(float("nan"), dtype=torch.double)
        c, s = torch.stack([self.correct, loss_sum.to(self.correct.device)]).tolist()
        return c, s, self.n


@dataclass
class StreamTotals:
    """What one ``eval()`` call summed over the experiences of one stream."""

    correct: float = 0.0
    loss_sum: float = 0.0
    n_samples: int = 0
    task_labels: set[int | None] = field(default_factory=set)
    experiences: list[int] = field(default_factory=list)  # current_experience of each

    def add(self, correct: float, loss_sum: float, n: int, task: int | None, k: int) -> None:
        """Add the totals of experience ``k`` (task label ``task``, None: several)."""
        self.correct += correct
        self.loss_sum += loss_sum
        self.n_samples += n
        self.task_labels.add(task)
        self.experiences.append(k)

    @property
    def task_label(self) -> int | None:
        """The stream's one task label, or None when it mixes several."""
        return next(iter(self.task_labels)) if len(self.task_labels) == 1 else None

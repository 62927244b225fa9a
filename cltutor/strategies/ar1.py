"""AR1 with latent replay (Pellegrini et al., 2020; Lomonaco et al., 2019).

The network is cut at a *latent layer*. On the first experience it trains end to end.
Afterwards the layers below the cut are frozen, and every minibatch is ``cur`` new
patterns, pushed through the whole network, plus ``mb - cur`` stored latent activations
``z``, pushed only through the layers above the cut: replay that skips most of the
computation. The output layer is consolidated with CWR*; Batch Renormalization replaces
batch norm; Synaptic Intelligence optionally protects the upper layers.

Where cltutor differs from Avalanche (see the reference, section 4):

* latent activations and their labels are stored together, so they always match
  (Avalanche mis-pairs them when the loader shuffles);
* latents are computed once the experience is over, with the lower layers in the eval
  mode they keep from then on;
* the latent memory is reshuffled and cycled every epoch (Avalanche takes fixed
  sequential slices);
* without a pretrained model, the first experience trains the lower layers and their
  BatchRenorm statistics; they freeze afterwards, BatchRenorm included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_int_range, check_number, check_positive_int
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import Experience
from cltutor.memory import BatchLoader
from cltutor.models import BatchRenorm2D, LatentReplayNet
from cltutor.strategies.ar1_plugins import (
    CWRStarPlugin,
    NotBuiltNet,
    SynapticIntelligencePlugin,
    check_ar1_model,
)
from cltutor.strategies.arguments import check_plugins
from cltutor.strategies.base import Naive

__all__ = ["AR1", "ar1_minibatch_sizes"]


# -- the maths, as pure functions ---------------------------------------------------
def ar1_minibatch_sizes(n_current: int, n_memory: int, train_mb_size: int) -> tuple[int, int]:
    """AR1's split of a minibatch into ``(current, replay)`` rows.

    ``cur = N // ((N + M) // mb)``: with that many new patterns per step, one
    epoch over the ``N`` new patterns takes about as many steps as one pass over
    ``N + M`` patterns; the other ``mb - cur`` rows are replayed latents. ``cur``
    is kept in ``[1, mb]``; an empty memory gives ``(mb, 0)``.

    >>> ar1_minibatch_sizes(40, 30, 10), ar1_minibatch_sizes(288, 500, 32)
    ((5, 5), (12, 20))
    """
    if n_memory == 0:
        return train_mb_size, 0
    steps = max(1, (n_current + n_memory) // train_mb_size)
    cur = min(train_mb_size, max(1, n_current // steps))
    return cur, train_mb_size - cur


class AR1(Naive):
    """AR1: latent replay, CWR* and Batch Renormalization (optionally Synaptic Intelligence).

    Parameters
    ----------
    criterion : callable, optional
        The loss; None gives cross-entropy.
    lr : float, default 0.001
        SGD learning rate on the first experience.
    momentum, l2 : float, default 0.9 and 0.0005
        SGD momentum and weight decay. AR1 builds its own SGD optimizer.
    train_epochs : int, default 4
    init_update_rate, inc_update_rate : float, default 0.01 and 5e-5
        BatchRenorm running-statistics update rate on the first / later experiences.
    max_r_max, max_d_max : float, default 1.25 and 0.5
        Limits of BatchRenorm's r and d; reached by ``inc_step`` per sample during
        the first experience, fixed at the maximum afterwards.
    inc_step : float, default 4.1e-5
    rm_sz : int, default 1500
        Latent memory size. It fills up first; experience ``i`` (0-based) stores
        at least ``rm_sz // (i + 1)`` latents, replacing random old ones when
        the free slots are too few.
    freeze_below_layer : str, default "end_features"
        Parameters registered before this module or parameter are frozen after
        the first experience (it stays trainable). The layers below the latent
        cut (``lat_features``) are always frozen then, since stored latents
        must stay valid.
    latent_layer_num : int, default 2
        The last block of the built :class:`~cltutor.models.LatentReplayNet`
        below the latent cut (ignored when ``model`` is given).
    ewc_lambda : float, default 0
        Synaptic Intelligence strength; 0 turns it off.
    train_mb_size, eval_mb_size : int, default 128
        ``train_mb_size`` is the whole minibatch, new plus replayed rows.
    device, plugins, evaluator, eval_every
        As :class:`~cltutor.strategies.base.Naive`; ``device=None`` means "auto".
    model : nn.Module, optional
        With ``lat_features``, ``end_features`` and an ``nn.Linear`` ``output``,
        ``model(x) == output(end_features(lat_features(x)))``. None builds a
        ``LatentReplayNet`` at the first experience, from its input shape.
    num_classes : int, optional
        Outputs of the built network; None counts the classes of the stream. With
        ``model`` it must be None or the model's number of outputs.
    inc_lr : float, optional
        Learning rate after the first experience; None keeps ``lr`` (Avalanche's
        5e-5 suits a pretrained network, not one trained from scratch).
    seed : int, optional
        Seeds the built network's weights, the minibatches and the latent memory: each
        ``train()`` runs with torch's global generators seeded from it (for weight
        initialisation and any dropout) and puts them back after, so ``seed=`` alone
        reproduces a run. None uses torch's global generator.

    Attributes
    ----------
    rm : tuple of Tensor
        The latent memory ``(z, y)``: activations ``(M, C, h, w)`` and labels ``(M,)``.
    replay_mb_size : int
        Replayed rows per minibatch in the current experience.

    Examples
    --------
    >>> from cltutor import SplitDigits
    >>> bm = SplitDigits(n_experiences=5, seed=0)
    >>> strategy = AR1(lr=0.01, train_mb_size=32, train_epochs=1, rm_sz=200,
    ...                evaluator=None, device="cpu", seed=0)
    >>> for exp in bm.train_stream[:2]:
    ...     _ = strategy.train(exp)
    >>> strategy.rm[0].shape, strategy.rm[1].shape
    (torch.Size([200, 64, 4, 4]), torch.Size([200]))

    Notebook ``07_ar1_latent_replay.ipynb`` compares it with replay.
    """

    def __init__(
        self,
        *,
        criterion: Any = None,
        lr: float = 0.001,
        momentum: float = 0.9,
        l2: float = 0.0005,
        train_epochs: int = 4,
        init_update_rate: float = 0.01,
        inc_update_rate: float = 5e-5,
        max_r_max: float = 1.25,
        max_d_max: float = 0.5,
        inc_step: float = 4.1e-5,
        rm_sz: int = 1500,
        freeze_below_layer: str = "end_features",
        latent_layer_num: int = 2,
        ewc_lambda: float = 0.0,
        train_mb_size: int = 128,
        eval_mb_size: int = 128,
        device: str | torch.device | None = "auto",
        plugins: Sequence[SupervisedPlugin] | None = None,
        evaluator: Any = "default",
        eval_every: int = -1,
        model: nn.Module | None = None,
        num_classes: int | None = None,
        inc_lr: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.lr, self.inc_lr, self.momentum, self.l2 = lr, inc_lr, momentum, l2
        self.init_update_rate, self.inc_update_rate = init_update_rate, inc_update_rate
        self.max_r_max, self.max_d_max, self.inc_step = max_r_max, max_d_max, inc_step
        self.rm_sz, self.ewc_lambda, self.num_classes = rm_sz, ewc_lambda, num_classes
        self.freeze_below_layer, self.latent_layer_num = freeze_below_layer, latent_layer_num
        self._check_parameters()
        if model is None:  # freeze_below_layer checked on the network train() will build
            with torch.device("meta"):  # layer names only: no memory, no random numbers
                check_ar1_model(LatentReplayNet(latent_layer_num=latent_layer_num),
                                freeze_below_layer)
        else:
            check_ar1_model(model, freeze_below_layer, num_classes)
        net = model if model is not None else NotBuiltNet()
        si = [SynapticIntelligencePlugin(ewc_lambda / 2, eps=1e-7, excluded_parameters=(
            "output",), clip_to=1e-3)] if ewc_lambda else []  # clipped: AR1's settings
        self.cwr_plugin = CWRStarPlugin("output")
        super().__init__(
            model=net,
            optimizer=self._sgd(net.parameters(), lr),
            criterion=criterion,
            train_mb_size=train_mb_size,
            train_epochs=train_epochs,
            eval_mb_size=eval_mb_size,
            device="auto" if device is None else device,
            plugins=[*check_plugins(plugins), *si, self.cwr_plugin],
            evaluator=evaluator,
            eval_every=eval_every,
            seed=seed,
        )
        self.rm_z: Tensor | None = None  # (n_memory, C, h, w), from the first update
        self.rm_y: Tensor | None = None  # (n_memory,)
        self.n_memory = 0
        self.replay_mb_size = 0
        self._replay_slots: Tensor | None = None  # (iterations, replay_mb_size)
        self._replay_latents: Tensor | None = None  # (R, C, h, w) for the current minibatch

    #: a nested eval() (from any training callback) puts the minibatch's latents back too
    _TRAIN_STATE = (*Naive._TRAIN_STATE, "_replay_latents")

    def _check_parameters(self) -> None:
        """Fail fast, naming the parameter, its bound and a value that works."""
        check_number("lr", self.lr, "Try lr=0.001.", low=0, low_open=True)
        if self.inc_lr is not None:  # None keeps lr
            check_number("inc_lr", self.inc_lr, "Try inc_lr=0.001.", low=0, low_open=True)
        check_number("momentum", self.momentum, "Try momentum=0.9.", low=0)
        check_number("l2", self.l2, "Try l2=0.0005.", low=0)
        check_number("init_update_rate", self.init_update_rate, "Try init_update_rate=0.01.",
                     low=0, low_open=True, high=1)
        check_number("inc_update_rate", self.inc_update_rate, "Try inc_update_rate=5e-5.",
                     low=0, high=1)
        check_number("max_r_max", self.max_r_max, "Try max_r_max=1.25.", low=1)
        check_number("max_d_max", self.max_d_max, "Try max_d_max=0.5.", low=0)
        check_number("inc_step", self.inc_step, "Try inc_step=4.1e-5.", low=0)
        check_number("ewc_lambda", self.ewc_lambda, "Use ewc_lambda=0 to turn SI off.", low=0)
        check_positive_int("rm_sz", self.rm_sz, "Try rm_sz=1500.")
        check_int_range("latent_layer_num", self.latent_layer_num, 0,
                        len(LatentReplayNet.DEFAULT_CHANNELS) - 1,
                        "It is a block index of the built network; try latent_layer_num=2.")
        check_positive_int("num_classes", self.num_classes, "Use benchmark.n_classes.",
                           allow_none=True)
        if not isinstance(self.freeze_below_layer, str):
            raise TypeError(
                f"freeze_below_layer must be a layer name (str), got "
                f"{self.freeze_below_layer!r}. Try freeze_below_layer='end_features'."
            )

    def _sgd(self, params: Any, lr: float) -> torch.optim.SGD:
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum, weight_decay=self.l2)

    @property
    def rm(self) -> tuple[Tensor, Tensor]:
        """The latent memory ``(z, y)`` (empty tensors before the first experience ends)."""
        if self.rm_z is None:
            empty = torch.empty(0, device=self.device)
            return empty, empty.long()
        return self.rm_z[: self.n_memory], self.rm_y[: self.n_memory]

    # -- building the network lazily, from the seed --------------------------------
    def _setup_model(self, experience: Experience) -> None:
        """Build the network from the first experience, if not given (``train()`` calls
        this inside the generators seeded from ``seed``)."""
        if getattr(experience.origin_stream, "scenario", None) == "task":
            raise ValueError(
                "AR1 learns class- and domain-incremental streams: CWR* consolidates one "
                "output layer shared by all tasks, so it cannot give each task its own head. "
                "For scenario='task' use Naive, Replay or AGEM with MTSimpleMLP; or build the "
                "stream with scenario='class' or 'domain' for AR1."
            )
        if isinstance(self.model, NotBuiltNet):
            self._build_model(experience)

    def _build_model(self, experience: Experience) -> None:
        x, _, _ = experience.dataset.get_batch(torch.arange(1))  # (1, C, H, W)
        num_classes = self.num_classes
        if num_classes is None:
            stream = experience.origin_stream
            if stream is None:
                raise ValueError(
                    "AR1 cannot count the classes of an experience outside a stream; pass "
                    "num_classes=benchmark.n_classes."
                )
            num_classes = 1 + max(c for e in stream for c in e.classes_in_this_experience)
        self.model = LatentReplayNet(num_classes, tuple(x.shape[1:]),
                                     latent_layer_num=self.latent_layer_num).to(self.device)
        check_ar1_model(self.model, self.freeze_below_layer)
        self.optimizer = self._sgd(self.model.parameters(), self.lr)

    # -- one experience --------------------------------------------------------------
    def _train_exp(self, **kwargs: Any) -> None:
        self._prepare_experience()
        super()._train_exp(**kwargs)
        self._update_latent_memory()

    def _prepare_experience(self) -> None:
        """BatchRenorm schedule, freezing and a fresh SGD optimizer (reference 4.2)."""
        first = self.clock.train_exp_counter == 0
        for m in self.model.modules():
            if isinstance(m, BatchRenorm2D) and first:
                m.set_schedule(momentum=self.init_update_rate, r_max=1.0, d_max=0.0,
                               max_r_max=self.max_r_max, max_d_max=self.max_d_max,
                               inc_step=self.inc_step)
            elif isinstance(m, BatchRenorm2D):
                m.set_schedule(momentum=self.inc_update_rate, r_max=self.max_r_max,
                               d_max=self.max_d_max, inc_step=0.0)
        if first:
            self.optimizer = self._sgd(self.model.parameters(), self.lr)
            return
        self.model.lat_features.requires_grad_(False).eval()  # eval: BatchRenorm's too
        layer = self.freeze_below_layer
        for name, p in self.model.named_parameters():  # and all registered before `layer`
            if name == layer or name.startswith(layer + "."):
                break
            p.requires_grad_(False)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self._sgd(trainable, self.inc_lr or self.lr)

    def make_train_dataloader(self, shuffle: bool = True, **kwargs: Any) -> None:
        """Minibatches of ``cur`` new patterns; ``replay_mb_size`` latents join each."""
        cur, self.replay_mb_size = ar1_minibatch_sizes(
            len(self.adapted_dataset), self.n_memory, self.train_mb_size
        )
        self.dataloader = BatchLoader(self.adapted_dataset, cur, shuffle=shuffle,
                                      seed=self._next_seed())

    def training_epoch(self, **kwargs: Any) -> None:
        """Naive's loop, after drawing this epoch's replay slots."""
        self._replay_slots = self._replay_schedule(len(self.dataloader))
        super().training_epoch(**kwargs)
        self._replay_slots = None

    def _replay_schedule(self, iterations: int) -> Tensor | None:
        """Memory slots for each step, shape (iterations, R): the memory reshuffled, cycled."""
        r, m = self.replay_mb_size, self.n_memory
        if r == 0 or m == 0:
            return None
        n_passes = -(-iterations * r // m)
        order = torch.cat([torch.randperm(m, generator=self._rng) for _ in range(n_passes)])
        return order[: iterations * r].view(iterations, r).to(self.device)

    def _unpack_minibatch(self) -> None:
        """Append the replayed labels (and task 0) to the batch; keep their latents aside."""
        super()._unpack_minibatch()
        self._replay_latents = None
        if self.is_training and self._replay_slots is not None:
            idx = self._replay_slots[self.clock.train_epoch_iterations]  # (R,)
            x, y, t = self.mbatch
            self._replay_latents = self.rm_z.index_select(0, idx)  # (R, C, h, w)
            self.mbatch = [x, torch.cat([y, self.rm_y.index_select(0, idx)]),
                           torch.cat([t, t.new_zeros(len(idx))])]

    def forward(self) -> Tensor:
        """Logits of the new rows then the replayed latents, ``(B + R, K)``."""
        if not self.is_training:
            return self.model(self.mb_x)
        frozen = self.clock.train_exp_counter > 0
        with torch.no_grad() if frozen else contextlib.nullcontext():
            z = self.model.lat_features(self.mb_x)  # (B, C, h, w)
        if self._replay_latents is not None:
            z = torch.cat([z, self._replay_latents])  # (B + R, C, h, w)
        return self.model.output(self.model.end_features(z))

    # -- the latent memory -----------------------------------------------------------
    @torch.no_grad()
    def _update_latent_memory(self) -> None:
        """Fill free slots, then replace random old ones, up to ``rm_sz // (i+1)`` latents in all.

        The share holds even when the memory is nearly full: an experience that finds
        9 free slots of 300 still stores its share of latents, not 9.
        """
        i = self.clock.train_exp_counter - 1  # the experience just trained
        data = self.adapted_dataset
        n, free = len(data), self.rm_sz - self.n_memory
        fill = min(free, n)
        share = min(self.rm_sz // (i + 1), n)
        picked = torch.randperm(n, generator=self._rng)[: max(fill, share)]  # rows of data
        z, y = self._latents(data, picked)  # (k, C, h, w), (k,): computed and stored together
        if self.rm_z is None:  # the memory holds what it stores, never rm_sz rows ahead
            self.rm_z, self.rm_y = z[:0], y[:0]
        self.rm_z = torch.cat([self.rm_z, z[:fill]])  # the first `fill` go to free slots
        self.rm_y = torch.cat([self.rm_y, y[:fill]])
        if share > fill:  # too few free slots: overwrite random occupied ones for the rest
            replaced = torch.randperm(self.n_memory, generator=self._rng)[: share - fill]
            replaced = replaced.to(self.device)
            self.rm_z[replaced], self.rm_y[replaced] = z[fill:], y[fill:]
        self.n_memory += fill

    def _latents(self, data: Any, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Latent activations of ``data[idx]`` with the lower layers in eval mode."""
        lower = self.model.lat_features
        was_training = lower.training
        lower.eval()
        zs, ys = [], []
        for chunk in idx.split(self.eval_mb_size):
            x, y, _ = data.get_batch(chunk.to(data.device))
            zs.append(lower(x))
            ys.append(y)
        lower.train(was_training)
        return torch.cat(zs), torch.cat(ys)

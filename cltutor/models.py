"""Small models for the tutorials, each split into ``features`` and a ``classifier`` head.

The split matters for continual learning: feature-based exemplar selection reads
the ``features`` output, and latent replay freezes the lower layers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_bool, check_int_range, check_number, check_positive_int, is_int

__all__ = ["SimpleMLP", "SimpleCNN", "BatchRenorm2D", "LatentReplayNet"]


def _check_channels(channels: Any, fix: str) -> tuple[int, ...]:
    """``channels`` as a tuple: a non-empty sequence of positive ints, one per block."""
    expected = "a non-empty sequence of positive ints (one per block)"
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Iterable):
        raise TypeError(f"channels must be {expected}, got {channels!r}. {fix}")
    widths = tuple(channels)
    if not widths or not all(is_int(c) and c > 0 for c in widths):
        raise ValueError(f"channels must be {expected}, got {channels!r}. {fix}")
    return tuple(int(c) for c in widths)


class SimpleMLP(nn.Module):
    """A multi-layer perceptron: flatten, ``hidden_layers`` x (Linear, ReLU, Dropout), Linear.

    Parameters
    ----------
    num_classes : int, default 10
    input_size : int, default 64
        Number of input features once flattened (64 for the bundled 8x8 digits,
        784 for MNIST).
    hidden_size : int, default 512
    hidden_layers : int, default 1
    drop_rate : float, default 0.5

    Examples
    --------
    >>> import torch
    >>> model = SimpleMLP(num_classes=10, input_size=64, hidden_size=32)
    >>> model(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    >>> model.features(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 32])

    Notebook ``01_quickstart.ipynb`` trains one on SplitDigits.
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_size: int = 64,
        hidden_size: int = 512,
        hidden_layers: int = 1,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes, "Use benchmark.n_classes.")
        check_positive_int("input_size", input_size, "Use 64 for 8x8 digits, 784 for MNIST.")
        check_positive_int("hidden_size", hidden_size, "Try hidden_size=512.")
        check_positive_int("hidden_layers", hidden_layers, "Try hidden_layers=1.")
        check_number("drop_rate", drop_rate, "Try drop_rate=0.5, or 0 for none.",
                     low=0, high=1, high_open=True)
        self.num_classes = num_classes
        self.input_size = input_size
        layers: list[nn.Module] = [nn.Flatten()]
        width = input_size
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_size), nn.ReLU(inplace=True)]
            if drop_rate > 0:
                layers.append(nn.Dropout(p=drop_rate))
            width = hidden_size
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, num_classes)


class SimpleCNN(nn.Module):
    """A small convolutional network: conv blocks, global average pooling, a linear head.

    Parameters
    ----------
    num_classes : int, default 10
    in_channels : int, default 1
    channels : sequence of int, default (32, 64)
        Output channels of each conv block (conv 3x3, ReLU, and a 2x2 max-pool
        after every block but the last).

    Examples
    --------
    >>> import torch
    >>> SimpleCNN(num_classes=10)(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    >>> SimpleCNN(num_classes=10)(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 10])

    Notebook ``08_playground.ipynb`` offers it as an alternative to the MLP.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64),
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes, "Use benchmark.n_classes.")
        check_positive_int("in_channels", in_channels, "Use 1 for digits/MNIST, 3 for CIFAR.")
        channels = _check_channels(channels, "Try channels=(32, 64).")
        layers: list[nn.Module] = []
        width = in_channels
        for i, out in enumerate(channels):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU(inplace=True)]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            width = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.num_classes = num_classes
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, num_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- AR1's building blocks: Batch Renormalization and a latent-replay network ------------
class BatchRenorm2D(nn.Module):
    """Batch Renormalization (Ioffe, 2017) for ``(B, C, H, W)`` inputs, as AR1 uses it.

    In training the batch is normalised with its own mean and std, then corrected
    towards the running statistics by ``r = clamp(std_B / std_run, 1/r_max, r_max)``
    and ``d = clamp((mean_B - mean_run) / std_run, -d_max, d_max)`` (both treated as
    constants by autograd)::

        x_hat = (x - mean_B) / std_B * r + d;   y = gamma * x_hat + beta

    With ``r_max=1, d_max=0`` this is batch normalisation. After every training
    forward ``r_max`` and ``d_max`` grow by ``inc_step * batch_size`` up to
    ``max_r_max`` and ``max_d_max``; the running mean and **std** (not variance)
    move towards the batch values by ``momentum``. In eval mode the running
    statistics are used: ``y = gamma * (x - mean_run) / std_run + beta``.

    Unlike Avalanche's version, the running statistics are buffers (saved in
    ``state_dict`` and moved by ``.to()``) and the schedule state (``r_max``,
    ``d_max``) is saved too. They start at mean 0 and std 1, and by default the
    first training batch overwrites them: a network trained from scratch has no
    pretrained statistics to start from, and at AR1's update rate (0.01) the
    0/1 start would still dominate after hundreds of steps, making eval-mode
    outputs wrong.

    Parameters
    ----------
    num_features : int
        Channels ``C``.
    eps : float, default 1e-5
        Added to the batch variance before the square root (> 0).
    momentum : float, default 0.01
        Update rate of the running statistics (AR1's ``init_update_rate``), in [0, 1].
    r_max, d_max : float, default 1.0 and 0.0
        Starting clamp limits, in [1, max_r_max] and [0, max_d_max].
    max_r_max, max_d_max : float, default 1.25 and 0.5
        Where the limits stop growing (>= 1 and >= 0).
    inc_step : float, default 4.1e-5
        Growth of both limits per training sample.
    init_from_first_batch : bool, default True
        Set the running statistics to the first training batch's; False keeps
        the 0/1 start (or statistics loaded from a pretrained network).

    Examples
    --------
    >>> import torch
    >>> brn = BatchRenorm2D(3)
    >>> brn(torch.randn(8, 3, 4, 4)).shape
    torch.Size([8, 3, 4, 4])
    >>> round(brn.r_max, 6), round(brn.d_max, 6)   # grew by 8 * 4.1e-5
    (1.000328, 0.000328)

    Notebook ``07_ar1_latent_replay.ipynb`` explains why AR1 uses it.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.01,
        r_max: float = 1.0,
        d_max: float = 0.0,
        max_r_max: float = 1.25,
        max_d_max: float = 0.5,
        inc_step: float = 4.1e-5,
        init_from_first_batch: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("num_features", num_features, "Use the conv layer's out_channels.")
        check_number("eps", eps, "Try eps=1e-5.", low=0, low_open=True)
        for name, value in [("momentum", momentum), ("max_r_max", max_r_max),
                            ("max_d_max", max_d_max), ("inc_step", inc_step)]:
            _check_schedule_value(name, value)
        check_number("r_max", r_max, "Start at r_max=1.0.", low=1, high=max_r_max)
        check_number("d_max", d_max, "Start at d_max=0.0.", low=0, high=max_d_max)
        check_bool("init_from_first_batch", init_from_first_batch)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.r_max, self.d_max = float(r_max), float(d_max)
        self.max_r_max, self.max_d_max = float(max_r_max), float(max_d_max)
        self.inc_step = inc_step
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_std", torch.ones(num_features))
        self.init_from_first_batch = init_from_first_batch  # cleared once it has happened

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchRenorm2D expects input of shape (B, {self.num_features}, H, W), got "
                f"{tuple(x.shape)}; check num_features against the previous layer."
            )
        if not self.training:
            scale = self.gamma / self.running_std  # (C,)
            shift = self.beta - scale * self.running_mean
            return x * scale[None, :, None, None] + shift[None, :, None, None]
        var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)  # (C,), (C,)
        std = torch.sqrt(var + self.eps)
        with torch.no_grad():
            if self.init_from_first_batch:
                self.running_mean.copy_(mean)
                self.running_std.copy_(std)
                self.init_from_first_batch = False
            r = (std / self.running_std).clamp(1.0 / self.r_max, self.r_max)  # (C,)
            d = ((mean - self.running_mean) / self.running_std).clamp(-self.d_max, self.d_max)
            self.running_mean.lerp_(mean, self.momentum)
            self.running_std.lerp_(std, self.momentum)
        self._advance_schedule(x.shape[0])
        scale = self.gamma * r / std  # (C,): x_hat * gamma folded into one multiply-add
        shift = self.beta + self.gamma * d - scale * mean
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def _advance_schedule(self, batch_size: int) -> None:
        self.r_max = min(self.max_r_max, self.r_max + self.inc_step * batch_size)
        self.d_max = min(self.max_d_max, self.d_max + self.inc_step * batch_size)

    def set_schedule(self, **values: float) -> None:
        """Set any of ``momentum``, ``r_max``, ``d_max``, ``max_r_max``, ``max_d_max``,
        ``inc_step`` (AR1 calls this between experiences)."""
        for name, value in values.items():
            if name not in _SCHEDULE_DEFAULTS:
                raise TypeError(f"set_schedule got {name!r}; it accepts "
                                f"{', '.join(_SCHEDULE_DEFAULTS)}.")
            _check_schedule_value(name, value)
        for name, value in values.items():
            setattr(self, name, float(value))

    def get_extra_state(self) -> dict[str, float | bool]:
        return {"r_max": self.r_max, "d_max": self.d_max,
                "init_from_first_batch": self.init_from_first_batch}

    def set_extra_state(self, state: dict[str, float | bool]) -> None:
        self.r_max, self.d_max = state["r_max"], state["d_max"]
        self.init_from_first_batch = state["init_from_first_batch"]

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, momentum={self.momentum}, r_max={self.r_max:.4g}, "
            f"d_max={self.d_max:.4g}"
        )


#: BatchRenorm2D's schedule values and the defaults the error messages suggest
_SCHEDULE_DEFAULTS = {"momentum": 0.01, "r_max": 1.0, "d_max": 0.0, "max_r_max": 1.25,
                      "max_d_max": 0.5, "inc_step": 4.1e-5}


def _check_schedule_value(name: str, value: Any) -> None:
    """momentum in [0, 1]; r_max and max_r_max >= 1 (r = 1 is no correction); the rest >= 0."""
    high = 1 if name == "momentum" else None
    low = 1 if name in ("r_max", "max_r_max") else 0
    check_number(name, value, f"Try {name}={_SCHEDULE_DEFAULTS[name]}.", low=low, high=high)


def _brn_block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    """conv 3x3 -> BatchRenorm2D -> ReLU (-> 2x2 max-pool), with named parts."""
    parts: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        bn=BatchRenorm2D(c_out),
        act=nn.ReLU(inplace=True),
    )
    if pool:
        parts["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(parts)


class LatentReplayNet(nn.Module):
    """The small convolutional network AR1 builds when it gets no model.

    A stack of conv blocks (conv 3x3, :class:`BatchRenorm2D`, ReLU), split at
    the latent layer: blocks ``0..latent_layer_num`` form ``lat_features``
    (their output is the latent activation ``z`` that AR1 stores), the other
    blocks plus global average pooling form ``end_features``, and ``output`` is
    a linear layer without bias (CWR* rewrites its rows). Blocks are named
    ``lat_features.<i>.conv``, ``lat_features.<i>.bn``, ... so AR1's
    ``freeze_below_layer`` can name them. A 2x2 max-pool follows every block
    while the image side is 8 or more: 8x8 digits give 4x4 latent maps, 28x28
    MNIST-sized images 7x7. It trains from scratch: nothing is downloaded.

    Parameters
    ----------
    num_classes : int, default 10
    input_shape : tuple of int, default (1, 8, 8)
        ``(C, H, W)`` of one input.
    channels : sequence of int, default (32, 64, 64, 128)
        Output channels of each block.
    latent_layer_num : int, default 2
        Index of the last block below the latent cut.

    Examples
    --------
    >>> import torch
    >>> net = LatentReplayNet(num_classes=10, input_shape=(1, 8, 8))
    >>> x = torch.rand(5, 1, 8, 8)
    >>> z = net.lat_features(x)                        # latent activations
    >>> z.shape
    torch.Size([5, 64, 4, 4])
    >>> net(x, latent_input=z[:2]).shape               # 5 new rows + 2 replayed latents
    torch.Size([7, 10])

    Notebook ``07_ar1_latent_replay.ipynb`` replays its latent activations.
    """

    DEFAULT_CHANNELS: tuple[int, ...] = (32, 64, 64, 128)

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 8, 8),
        channels: Sequence[int] = DEFAULT_CHANNELS,
        latent_layer_num: int = 2,
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes, "Use benchmark.n_classes.")
        shape = tuple(input_shape) if isinstance(input_shape, Iterable) else ()
        if len(shape) != 3 or not all(is_int(s) and s > 0 for s in shape):
            raise ValueError(
                f"input_shape must be (C, H, W) of positive ints, got {input_shape!r}. "
                "Use (1, 8, 8) for the bundled digits or (1, 28, 28) for MNIST."
            )
        channels = _check_channels(channels, "Try channels=(32, 64, 64, 128).")
        check_int_range(
            "latent_layer_num", latent_layer_num, 0, len(channels) - 1,
            f"It is the index of a block; try latent_layer_num={max(len(channels) - 2, 0)}.",
        )
        blocks, width, side = [], shape[0], min(shape[1:])
        for out in channels:
            blocks.append(_brn_block(width, out, pool=side >= 8))
            width, side = out, side // 2 if side >= 8 else side
        self.num_classes = num_classes
        self.input_shape = shape
        self.latent_layer_num = latent_layer_num
        self.lat_features = nn.Sequential(*blocks[: latent_layer_num + 1])
        self.end_features = nn.Sequential(
            *blocks[latent_layer_num + 1 :], nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.output = nn.Linear(width, num_classes, bias=False)

    def forward(self, x: Tensor, latent_input: Tensor | None = None) -> Tensor:
        """Logits of ``x``; ``latent_input`` rows (stored latents) are appended after them."""
        z = self.lat_features(x)  # (B, C_lat, h, w)
        if latent_input is not None:
            z = torch.cat([z, latent_input])  # (B + R, C_lat, h, w)
        return self.output(self.end_features(z))  # (B [+ R], num_classes)

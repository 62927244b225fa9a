"""LatentReplayNet: the convolutional network AR1 cuts at a latent layer."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from cltutor._checks import check_int_range, check_positive_int, is_int
from cltutor.models.batch_renorm import BatchRenorm2D
from cltutor.models.simple import check_channels

__all__ = ["LatentReplayNet"]


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
        channels = check_channels(channels, "Try channels=(32, 64, 64, 128).")
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

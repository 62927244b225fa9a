"""Batch transforms for image tensors: pixel permutation, rotation, normalisation, augmentation.

Each works on a whole batch ``(N, C, H, W)`` at once. ``permute_pixels`` and
``rotate_images`` build the domain-incremental benchmarks (applied once per
experience); ``NormalizeBatch`` and ``RandomCropFlip`` are the per-batch
``transform`` of the torchvision benchmarks' datasets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cltutor._checks import check_bool, check_int_range, make_generator

__all__ = ["permute_pixels", "rotate_images", "NormalizeBatch", "RandomCropFlip"]


def permute_pixels(x: Tensor, perm: Tensor) -> Tensor:
    """Apply one permutation of the ``C*H*W`` values to every image of ``x`` (N, C, H, W)."""
    flat = x.reshape(len(x), -1)  # (N, C*H*W)
    return flat.index_select(1, perm.to(x.device)).view_as(x)


def rotate_images(x: Tensor, angle: float, chunk: int = 8192) -> Tensor:
    """Rotate every image of ``x`` (N, C, H, W) by ``angle`` degrees, counter-clockwise.

    Bilinear interpolation, zeros outside the image (as torchvision's ``rotate``
    turns positive angles). One sampling grid serves the whole batch: the images
    are stacked as channels of a single grid_sample call, ``chunk`` at a time.
    Integer inputs (uint8 images) are rounded back to their dtype.
    """
    if float(angle) % 360 == 0:
        return x.clone()
    a = math.radians(float(angle))
    n, c, h, w = x.shape
    # output pixel p samples input R(angle) p (normalised coords, y pointing down)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])
    grid = F.affine_grid(theta[None], [1, 1, h, w], align_corners=False).to(x.device)
    out = torch.empty_like(x)
    for start in range(0, n, chunk):
        block = x[start : start + chunk].float().reshape(1, -1, h, w)  # (1, B*C, H, W)
        rot = F.grid_sample(block, grid, mode="bilinear", align_corners=False)
        rot = rot.view(-1, c, h, w)
        if not x.dtype.is_floating_point:
            rot = rot.round_()
        out[start : start + chunk] = rot
    return out


class NormalizeBatch(nn.Module):
    """uint8 images ``(B, C, H, W)`` -> float32 ``(x / 255 - mean) / std`` per channel.

    Float inputs are taken to be in [0, 1] already. Runs on the batch's device.

    Examples
    --------
    >>> import torch
    >>> norm = NormalizeBatch(mean=(0.5,), std=(0.5,))
    >>> norm(torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)).flatten().tolist()
    [-1.0, 1.0]

    Notebook ``08_playground.ipynb`` trains on the MNIST benchmarks that use it.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self._stats: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def forward(self, x: Tensor) -> Tensor:
        if x.device not in self._stats:  # (1, C, 1, 1) each, made once per device
            shape = (1, len(self.mean), 1, 1)
            self._stats[x.device] = (
                torch.tensor(self.mean, device=x.device).view(shape),
                torch.tensor(self.std, device=x.device).view(shape),
            )
        mean, std = self._stats[x.device]
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        return (x - mean) / std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class RandomCropFlip(nn.Module):
    """Random crop after zero padding, plus a random horizontal flip, for a whole batch.

    The standard CIFAR augmentation (torchvision's ``RandomCrop(32, padding=4)``
    and ``RandomHorizontalFlip()``), vectorised: each image gets its own offset
    and coin flip, and one ``gather`` builds the batch.

    Parameters
    ----------
    padding : int, default 4
    flip : bool, default True
        Flip each image left-right with probability 1/2.
    seed : int, optional
        Seeds the offsets and flips; None draws from torch's global generator.

    Examples
    --------
    >>> import torch
    >>> aug = RandomCropFlip(padding=4, seed=0)
    >>> aug(torch.zeros(8, 3, 32, 32, dtype=torch.uint8)).shape
    torch.Size([8, 3, 32, 32])

    Notebook ``08_playground.ipynb`` trains on SplitCIFAR10 with it.
    """

    def __init__(self, padding: int = 4, flip: bool = True, seed: int | None = None) -> None:
        super().__init__()
        check_int_range("padding", padding, 0, None, "CIFAR uses padding=4.")
        check_bool("flip", flip)
        self.padding, self.flip, self.seed = padding, flip, seed
        self._generator = make_generator(seed)  # checks seed

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p, dev = self.padding, x.device
        padded = F.pad(x, (p, p, p, p)).flatten(2)  # (B, C, (H+2p)*(W+2p))
        # draws on the CPU generator (reproducible), then only (B,)-sized tensors move
        offsets = torch.randint(0, 2 * p + 1, (2, b, 1), generator=self._generator).to(dev)
        rows = offsets[0] + torch.arange(h, device=dev)  # (B, H) rows of the padded image
        cols = offsets[1] + torch.arange(w, device=dev)  # (B, W)
        if self.flip:
            flipped = (torch.rand(b, 1, generator=self._generator) < 0.5).to(dev)
            cols = torch.where(flipped, cols.flip(1), cols)
        index = rows[:, :, None] * (w + 2 * p) + cols[:, None, :]  # (B, H, W)
        index = index.view(b, 1, h * w).expand(b, c, h * w)  # same pixels for every channel
        return padded.gather(2, index).view(b, c, h, w)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, flip={self.flip}, seed={self.seed}"

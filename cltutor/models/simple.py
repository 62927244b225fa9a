"""SimpleMLP and SimpleCNN: each split into ``features`` and a ``classifier`` head.

The split matters for continual learning: feature-based exemplar selection reads
the ``features`` output, and latent replay freezes the lower layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch import Tensor, nn

from cltutor._checks import check_number, check_positive_int, is_int

__all__ = ["SimpleMLP", "SimpleCNN", "count_parameters"]


def check_channels(channels: Any, fix: str) -> tuple[int, ...]:
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
        channels = check_channels(channels, "Try channels=(32, 64).")
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

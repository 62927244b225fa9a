"""Small models for the tutorials, each split into ``features`` and a ``classifier`` head.

The split matters for continual learning: feature-based exemplar selection reads
the ``features`` output, and latent replay freezes the lower layers.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["SimpleMLP", "SimpleCNN"]


def _check_positive_int(name: str, value: int, hint: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}. {hint}")


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
        _check_positive_int("num_classes", num_classes, "Use benchmark.n_classes.")
        _check_positive_int("input_size", input_size, "Use 64 for 8x8 digits, 784 for MNIST.")
        _check_positive_int("hidden_size", hidden_size, "Try hidden_size=512.")
        _check_positive_int("hidden_layers", hidden_layers, "Try hidden_layers=1.")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}. Try 0.5 or 0.")
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
        _check_positive_int("num_classes", num_classes, "Use benchmark.n_classes.")
        _check_positive_int("in_channels", in_channels, "Use 1 for digits/MNIST, 3 for CIFAR.")
        if len(channels) == 0:
            raise ValueError("channels must name at least one conv block, got (). Try (32, 64).")
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



"""Batch Renormalization (Ioffe, 2017) for 2-D feature maps, with AR1's schedule."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cltutor._checks import check_bool, check_number, check_positive_int

__all__ = ["BatchRenorm2D"]


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



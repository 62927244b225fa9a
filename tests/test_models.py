"""Tests of cltutor.models: the small networks, BatchRenorm2D and AR1's latent network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cltutor.models import (
    BatchRenorm2D,
    LatentReplayNet,
    SimpleCNN,
    SimpleMLP,
    count_parameters,
)


# -- SimpleMLP / SimpleCNN ---------------------------------------------------------
def test_simple_mlp_shapes_and_parameter_count():
    model = SimpleMLP(num_classes=2, input_size=4, hidden_size=3, drop_rate=0.0)
    assert model(torch.rand(5, 1, 2, 2)).shape == (5, 2)
    assert model.features(torch.rand(5, 4)).shape == (5, 3)
    assert count_parameters(model) == (4 * 3 + 3) + (3 * 2 + 2)
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())


def test_simple_mlp_is_features_then_classifier():
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=3, input_size=64, hidden_size=8, hidden_layers=2).eval()
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(model(x), model.classifier(model.features(x)))
    assert sum(isinstance(m, nn.Linear) for m in model.features) == 2


def test_simple_cnn_shapes_for_digits_and_mnist():
    model = SimpleCNN(num_classes=7, in_channels=1, channels=(4, 6))
    for side in (8, 28):
        assert model(torch.rand(2, 1, side, side)).shape == (2, 7)
        assert model.features(torch.rand(2, 1, side, side)).shape == (2, 6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": 0}, "num_classes must be a positive int, got 0"),
        ({"input_size": -1}, "input_size must be a positive int, got -1"),
        ({"hidden_size": 2.5}, "hidden_size must be a positive int, got 2.5"),
        ({"hidden_layers": 0}, "hidden_layers must be a positive int"),
        ({"drop_rate": 1.0}, r"drop_rate must be a finite number >= 0 and < 1, got 1.0"),
        ({"drop_rate": float("nan")}, r"drop_rate must be a finite number >= 0 and < 1, got nan"),
    ],
)
def test_simple_mlp_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimpleMLP(**kwargs)


@pytest.mark.bad_input("M6")
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        # M6: a string for a number
        ({"drop_rate": "0.5"}, TypeError,
         r"drop_rate must be a finite number >= 0 and < 1, got '0.5'\. Try drop_rate=0.5"),
        ({"drop_rate": -0.1}, ValueError, r"drop_rate must be a finite number >= 0 and < 1"),
        ({"drop_rate": float("inf")}, ValueError, r"drop_rate must be .* got inf"),
        ({"drop_rate": True}, TypeError, r"drop_rate must be a finite number .* got True"),
        ({"hidden_size": True}, ValueError, r"hidden_size must be a positive int, got True"),
        ({"hidden_layers": False}, ValueError, r"hidden_layers must be a positive int, got False"),
        ({"num_classes": 10.0}, ValueError, r"num_classes must be a positive int, got 10.0"),
        ({"input_size": "64"}, ValueError, r"input_size must be a positive int, got '64'"),
    ],
)
def test_simple_mlp_bad_kinds(kwargs, error, match):
    with pytest.raises(error, match=match):
        SimpleMLP(**kwargs)


_CHANNELS = r"channels must be a non-empty sequence of positive ints \(one per block\)"


@pytest.mark.bad_input("M8", "M9")
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_channels": 0}, ValueError, "in_channels must be a positive int, got 0"),
        ({"in_channels": True}, ValueError, "in_channels must be a positive int, got True"),
        ({"num_classes": -2}, ValueError, "num_classes must be a positive int, got -2"),
        ({"channels": ()}, ValueError, _CHANNELS + r", got \(\)\. Try channels=\(32, 64\)"),
        ({"channels": (0,)}, ValueError, _CHANNELS + r", got \(0,\)"),  # M8
        ({"channels": (32, -4)}, ValueError, _CHANNELS + r", got \(32, -4\)"),  # M9
        ({"channels": (32, 2.5)}, ValueError, _CHANNELS + r", got \(32, 2.5\)"),
        ({"channels": (True, 8)}, ValueError, _CHANNELS + r", got \(True, 8\)"),
        ({"channels": 32}, TypeError, _CHANNELS + r", got 32\. Try"),
        ({"channels": "32"}, TypeError, _CHANNELS + r", got '32'"),
    ],
)
def test_simple_cnn_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SimpleCNN(**kwargs)


def test_simple_cnn_takes_any_sequence_of_ints():
    model = SimpleCNN(num_classes=3, channels=[4, torch.tensor(6).item()])
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)


# -- BatchRenorm2D -------------------------------------------------------------------
def _pair(c: int = 3):
    """A BRN fixed at r_max=1, d_max=0 and a BatchNorm2d with the same affine parameters."""
    torch.manual_seed(0)
    brn = BatchRenorm2D(c, r_max=1.0, d_max=0.0, inc_step=0.0)
    bn = nn.BatchNorm2d(c, eps=brn.eps)
    with torch.no_grad():
        brn.gamma.copy_(torch.rand(c) + 0.5)
        brn.beta.copy_(torch.randn(c))
        bn.weight.copy_(brn.gamma)
        bn.bias.copy_(brn.beta)
    return brn, bn


def test_brn_equals_batchnorm_in_training_when_r_max_1_d_max_0():
    brn, bn = _pair()
    for step in range(3):  # the running statistics drift apart; outputs must not
        x = (torch.randn(6, 3, 4, 5) * (step + 1) + step).requires_grad_()
        x_bn = x.detach().clone().requires_grad_()
        out, out_bn = brn(x), bn(x_bn)
        torch.testing.assert_close(out, out_bn)
        weights = torch.randn_like(out)
        (out * weights).sum().backward()
        (out_bn * weights).sum().backward()
        torch.testing.assert_close(x.grad, x_bn.grad)
    torch.testing.assert_close(brn.gamma.grad, bn.weight.grad)
    torch.testing.assert_close(brn.beta.grad, bn.bias.grad)


def _batch_stats(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(dim=(0, 2, 3)), (x.var(dim=(0, 2, 3), unbiased=False) + eps).sqrt()


def test_brn_running_statistics_follow_the_momentum_rule():
    brn = BatchRenorm2D(2, momentum=0.1, init_from_first_batch=False)
    x = torch.randn(8, 2, 3, 3) * 2 + 1
    brn(x)
    mean, std = _batch_stats(x, brn.eps)
    torch.testing.assert_close(brn.running_mean, 0.9 * 0.0 + 0.1 * mean)
    torch.testing.assert_close(brn.running_std, 0.9 * 1.0 + 0.1 * std)


def test_brn_first_training_batch_sets_the_running_statistics():
    brn = BatchRenorm2D(2, momentum=0.1)
    brn.eval()(torch.randn(4, 2, 3, 3))  # eval batches do not count
    x1, x2 = torch.randn(8, 2, 3, 3) * 2 + 1, torch.randn(8, 2, 3, 3) - 3
    brn.train()
    brn(x1)
    mean1, std1 = _batch_stats(x1, brn.eps)
    torch.testing.assert_close(brn.running_mean, mean1)
    torch.testing.assert_close(brn.running_std, std1)
    brn(x2)  # then the momentum rule
    mean2, std2 = _batch_stats(x2, brn.eps)
    torch.testing.assert_close(brn.running_mean, 0.9 * mean1 + 0.1 * mean2)
    torch.testing.assert_close(brn.running_std, 0.9 * std1 + 0.1 * std2)
    assert brn.init_from_first_batch is False


def test_brn_training_output_matches_the_r_d_formula_with_clamping():
    gamma, beta = torch.tensor([1.5, 0.5]), torch.tensor([0.1, -0.2])
    run_mean = torch.tensor([0.0, 5.0])
    brn = BatchRenorm2D(2, r_max=1.2, d_max=0.3, inc_step=0.0, init_from_first_batch=False)
    with torch.no_grad():
        brn.gamma.copy_(gamma)
        brn.beta.copy_(beta)
        brn.running_mean.copy_(run_mean)  # running std stays 1
    x = torch.randn(16, 2, 2, 2) * torch.tensor([3.0, 1.0]).view(1, 2, 1, 1)
    out = brn(x)
    # the oracle, per channel in float64
    xd = x.double()
    mean = xd.mean(dim=(0, 2, 3))
    std = (xd.var(dim=(0, 2, 3), unbiased=False) + brn.eps).sqrt()
    r = std.clamp(1 / 1.2, 1.2)  # channel 0 has std ~3: clamped to 1.2
    d = (mean - run_mean.double()).clamp(-0.3, 0.3)  # channel 1 is ~5 below: clamped to -0.3
    assert r[0] == pytest.approx(1.2) and d[1] == pytest.approx(-0.3)
    col = lambda v: v.double().view(1, 2, 1, 1)  # noqa: E731
    expected = ((xd - col(mean)) / col(std) * col(r) + col(d)) * col(gamma) + col(beta)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_brn_unclamped_training_output_equals_running_statistics_normalisation():
    # With r and d inside their limits, (x - m_B)/s_B * s_B/s_run + (m_B - m_run)/s_run
    # is exactly (x - m_run)/s_run: what eval mode computes.
    brn = BatchRenorm2D(3, r_max=100.0, d_max=100.0, max_r_max=100.0, max_d_max=100.0,
                        init_from_first_batch=False)
    with torch.no_grad():
        brn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        brn.running_std.copy_(torch.tensor([2.0, 0.5, 1.0]))
    x = torch.randn(10, 3, 4, 4)
    out = brn(x)
    expected = (x - torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)) / torch.tensor(
        [2.0, 0.5, 1.0]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_brn_eval_uses_running_statistics_and_leaves_them_alone():
    brn = BatchRenorm2D(2)
    with torch.no_grad():
        brn.gamma.copy_(torch.tensor([2.0, 1.0]))
        brn.beta.copy_(torch.tensor([0.0, 1.0]))
        brn.running_mean.copy_(torch.tensor([1.0, -1.0]))
        brn.running_std.copy_(torch.tensor([0.5, 4.0]))
    brn.eval()
    x = torch.randn(3, 2, 2, 2)
    expected = torch.stack([2.0 * (x[:, 0] - 1.0) / 0.5, (x[:, 1] + 1.0) / 4.0 + 1.0], dim=1)
    torch.testing.assert_close(brn(x), expected)
    assert brn.running_mean.tolist() == [1.0, -1.0] and brn.r_max == 1.0


def test_brn_r_d_schedule_grows_per_sample_up_to_the_maximum():
    brn = BatchRenorm2D(1, inc_step=0.01, max_r_max=1.25, max_d_max=0.5)
    sizes = [4, 8, 8, 8, 8]
    expected_r, expected_d = [], []
    r, d = 1.0, 0.0
    for b in sizes:
        r, d = min(1.25, r + 0.01 * b), min(0.5, d + 0.01 * b)
        expected_r.append(r)
        expected_d.append(d)
    got_r, got_d = [], []
    for b in sizes:
        brn(torch.randn(b, 1, 2, 2))
        got_r.append(brn.r_max)
        got_d.append(brn.d_max)
    assert got_r == pytest.approx(expected_r) and got_d == pytest.approx(expected_d)
    assert got_r[-1] == 1.25 and got_d[2] == pytest.approx(0.2)
    brn.eval()
    brn(torch.randn(8, 1, 2, 2))
    assert brn.r_max == 1.25  # eval forwards do not advance the schedule


def test_brn_state_dict_keeps_running_statistics_and_schedule():
    brn = BatchRenorm2D(3, momentum=0.5)
    for _ in range(4):
        brn(torch.randn(8, 3, 2, 2) * 3 + 2)
    state = brn.state_dict()
    assert {"gamma", "beta", "running_mean", "running_std", "_extra_state"} <= set(state)
    fresh = BatchRenorm2D(3)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.running_std, brn.running_std)
    assert fresh.r_max == brn.r_max and fresh.d_max == brn.d_max and fresh.r_max > 1.0
    assert fresh.init_from_first_batch is False  # a loaded network keeps its statistics
    x = torch.randn(5, 3, 2, 2)
    torch.testing.assert_close(fresh.eval()(x), brn.eval()(x))
    assert {name for name, _ in brn.named_buffers()} == {"running_mean", "running_std"}


def test_brn_set_schedule():
    brn = BatchRenorm2D(2)
    brn.set_schedule(momentum=5e-5, r_max=1.25, d_max=0.5, inc_step=0.0)
    assert (brn.momentum, brn.r_max, brn.d_max, brn.inc_step) == (5e-5, 1.25, 0.5, 0.0)
    with pytest.raises(TypeError, match="set_schedule got 'rmax'; it accepts momentum"):
        brn.set_schedule(rmax=2.0)


def test_brn_errors():
    with pytest.raises(ValueError, match="num_features must be a positive int, got 0"):
        BatchRenorm2D(0)
    with pytest.raises(ValueError, match=r"expects input of shape \(B, 3, H, W\), got \(2, 4\)"):
        BatchRenorm2D(3)(torch.rand(2, 4))
    with pytest.raises(TypeError, match="init_from_first_batch must be True or False, got 1"):
        BatchRenorm2D(3, init_from_first_batch=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_features": True}, ValueError, r"num_features must be a positive int, got True"),
        ({"eps": 0}, ValueError, r"eps must be a finite number > 0, got 0\. Try eps=1e-5"),
        ({"eps": "1e-5"}, TypeError, r"eps must be a finite number > 0, got '1e-5'"),
        ({"momentum": 2}, ValueError,
         r"momentum must be a finite number >= 0 and <= 1, got 2\. Try momentum=0.01"),
        ({"momentum": float("nan")}, ValueError, r"momentum must be .* got nan"),
        ({"r_max": 0.5}, ValueError,
         r"r_max must be a finite number >= 1 and <= 1.25, got 0.5\. Start at r_max=1.0"),
        ({"r_max": 2.0}, ValueError, r"r_max must be a finite number >= 1 and <= 1.25, got 2.0"),
        ({"d_max": -0.1}, ValueError, r"d_max must be a finite number >= 0 and <= 0.5, got -0.1"),
        ({"max_r_max": 0.9}, ValueError, r"max_r_max must be a finite number >= 1, got 0.9"),
        ({"max_r_max": float("inf")}, ValueError, r"max_r_max must be .* got inf"),
        ({"max_d_max": -1}, ValueError, r"max_d_max must be a finite number >= 0, got -1"),
        ({"inc_step": -4e-5}, ValueError, r"inc_step must be a finite number >= 0, got -4e-05"),
        ({"inc_step": True}, TypeError, r"inc_step must be a finite number >= 0, got True"),
    ],
)
def test_brn_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchRenorm2D(**{"num_features": 3, **kwargs})


def test_brn_set_schedule_checks_values_before_setting_any():
    brn = BatchRenorm2D(2)
    with pytest.raises(ValueError, match=r"momentum must be a finite number >= 0 and <= 1"):
        brn.set_schedule(inc_step=0.0, momentum=1.5)
    assert (brn.momentum, brn.inc_step) == (0.01, 4.1e-5)  # nothing half-applied
    with pytest.raises(ValueError, match=r"r_max must be a finite number >= 1, got 0.0"):
        brn.set_schedule(r_max=0.0)


# -- LatentReplayNet --------------------------------------------------------------------
@pytest.mark.parametrize(("side", "latent_side"), [(8, 4), (28, 7)])
def test_latent_net_shapes_for_digits_and_mnist(side, latent_side):
    net = LatentReplayNet(num_classes=5, input_shape=(1, side, side))
    x = torch.rand(3, 1, side, side)
    assert net.lat_features(x).shape == (3, 64, latent_side, latent_side)
    assert net(x).shape == (3, 5)
    assert net.output.bias is None and net.output.out_features == 5


def test_latent_net_split_and_layer_names():
    net = LatentReplayNet(channels=(8, 8, 16, 16), latent_layer_num=1)
    assert len(net.lat_features) == 2 and len(net.end_features) == 2 + 2  # + pool, flatten
    names = dict(net.named_parameters())
    assert "lat_features.1.bn.beta" in names and "end_features.0.conv.weight" in names
    assert sum(isinstance(m, BatchRenorm2D) for m in net.modules()) == 4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_latent_net_latent_input_rows_follow_the_current_rows():
    torch.manual_seed(0)
    net = LatentReplayNet(channels=(8, 8, 16), latent_layer_num=1).eval()
    x, x_old = torch.rand(4, 1, 8, 8), torch.rand(3, 1, 8, 8)
    out = net(x, latent_input=net.lat_features(x_old))
    torch.testing.assert_close(out, torch.cat([net(x), net(x_old)]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (8, 8)}, r"input_shape must be \(C, H, W\) of positive ints"),
        ({"channels": ()}, _CHANNELS + r", got \(\)\. Try channels=\(32, 64, 64, 128\)"),
        ({"channels": (8, 0, 8)}, _CHANNELS + r", got \(8, 0, 8\)"),
        ({"input_shape": (True, 8, 8)}, r"input_shape must be \(C, H, W\) of positive ints"),
        ({"input_shape": 8}, r"input_shape must be \(C, H, W\) of positive ints, got 8"),
        ({"latent_layer_num": True}, r"latent_layer_num must be an int in \[0, 3\], got True"),
        ({"latent_layer_num": 4}, r"latent_layer_num must be an int in \[0, 3\], got 4"),
        ({"num_classes": 0}, "num_classes must be a positive int, got 0"),
    ],
)
def test_latent_net_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LatentReplayNet(**kwargs)

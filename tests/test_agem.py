"""Tests of cltutor.strategies.agem: the projection, the memory, the plugin inside Naive."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cltutor import PermutedDigits, SimpleMLP
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.strategies.agem import AGEM, AGEMPlugin, memory_quotas, project_gradient
from cltutor.strategies.base import Naive


# -- project_gradient ------------------------------------------------------------------
def test_projection_on_2d_vectors_by_hand():
    g, g_ref = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # g.g_ref = -1, |g_ref|^2 = 2: g - (-1/2) g_ref = (1, 0) + (-0.5, 0.5)
    out = project_gradient(g, g_ref)
    torch.testing.assert_close(out, torch.tensor([0.5, 0.5]))
    assert torch.dot(out, g_ref).item() == pytest.approx(0.0)


def test_projection_leaves_agreeing_and_orthogonal_gradients_alone():
    g = torch.tensor([1.0, 2.0])
    assert torch.equal(project_gradient(g, torch.tensor([3.0, -1.0])), g)  # dot = 1 > 0
    assert torch.equal(project_gradient(g, torch.tensor([2.0, -1.0])), g)  # dot = 0
    assert torch.equal(project_gradient(g, torch.zeros(2)), g)  # empty memory gradient


def test_projection_on_random_vectors_matches_the_closed_form():
    gen = torch.Generator().manual_seed(0)
    n_projected = 0
    for _ in range(200):
        g, g_ref = torch.randn(50, generator=gen), torch.randn(50, generator=gen)
        out = project_gradient(g, g_ref)
        gd, rd = g.double().numpy(), g_ref.double().numpy()
        dot = gd @ rd
        expected = gd - dot / (rd @ rd) * rd if dot < 0 else gd
        np.testing.assert_allclose(out.double().numpy(), expected, rtol=1e-5, atol=1e-5)
        assert torch.dot(out, g_ref).item() >= -1e-4  # never against the memory
        if dot >= 0:
            assert torch.equal(out, g)
        n_projected += dot < 0
    assert 50 < n_projected < 150  # both branches were exercised


def test_projection_errors():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(2,\)"):
        project_gradient(torch.zeros(3), torch.zeros(2))
    with pytest.raises(TypeError, match="must be tensors, got list and Tensor"):
        project_gradient([1.0, 0.0], torch.zeros(2))


# -- memory ------------------------------------------------------------------------------
def test_memory_quotas_split_evenly_remainder_first():
    assert memory_quotas(10, [100, 100, 100]) == [4, 3, 3]
    assert memory_quotas(64, [50] * 4) == [16] * 4
    assert memory_quotas(2, [5, 5, 5]) == [1, 1, 0]
    assert memory_quotas(10, [2, 100]) == [2, 5]  # never more than a memory holds


def _id_stream(sizes: list[int], dim: int = 3) -> Stream:
    """Experiences whose inputs encode (experience, row): x[:, 0] = experience id."""
    exps = []
    for e, n in enumerate(sizes):
        x = torch.zeros(n, dim)
        x[:, 0] = e
        x[:, 1] = torch.arange(n)
        exps.append(Experience(ClassificationDataset(x, torch.arange(n) % 2), e))
    return Stream("train", exps)


def _strategy(model, plugin, lr=0.1, mb=8, criterion=None, epochs=1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return Naive(model, opt, criterion, train_mb_size=mb, train_epochs=epochs,
                 plugins=[plugin], evaluator=None, device="cpu", seed=0)


def test_memory_holds_patterns_per_experience_from_each_experience():
    stream = _id_stream([40, 30, 5])
    plugin = AGEMPlugin(patterns_per_experience=10, sample_size=6, seed=0)
    strategy = _strategy(nn.Linear(3, 2), plugin)
    for exp in stream:
        strategy.train(exp)
    assert [len(b) for b in plugin.buffers] == [10, 10, 5]  # the last experience has 5
    for e, buffer in enumerate(plugin.buffers):
        assert (buffer.x[:, 0] == e).all()
        rows = buffer.x[:, 1].long()
        assert len(torch.unique(rows)) == len(rows)  # distinct patterns
        assert torch.equal(buffer.y, stream[e].dataset.y[rows])  # labels travel with inputs


def test_reference_batch_is_balanced_and_random():
    plugin = AGEMPlugin(patterns_per_experience=20, sample_size=10, seed=0)
    for exp in _id_stream([50, 50, 50]):
        plugin.update_memory(exp.dataset, torch.device("cpu"))
    draws = []
    for _ in range(20):
        x, y, _ = plugin.sample_memory()
        counts = torch.bincount(x[:, 0].long(), minlength=3).tolist()
        assert counts == [4, 3, 3]
        assert len(torch.unique(x, dim=0)) == 10  # no pattern twice in a batch
        draws.append(tuple(x[:, 1].tolist()))
    assert len(set(draws)) > 15  # a fresh random batch each time


class _SpyAGEM(AGEMPlugin):
    """Records which experience every pattern of every reference batch came from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[list[int]] = []

    def sample_memory(self):
        x, y, t = super().sample_memory()
        self.batches.append(torch.bincount(x[:, 0].long(), minlength=3).tolist())
        return x, y, t


def test_reference_batches_during_training_are_balanced_over_past_experiences():
    plugin = _SpyAGEM(patterns_per_experience=12, sample_size=7, seed=0)
    strategy = _strategy(nn.Linear(3, 2), plugin, mb=10)
    for exp in _id_stream([30, 30, 30]):
        strategy.train(exp)
    # experience 1: 3 steps against one memory; experience 2: 3 steps against two
    assert plugin.batches == [[7, 0, 0]] * 3 + [[4, 3, 0]] * 3
    assert plugin.n_steps == 6


def test_seed_makes_memory_and_batches_reproducible():
    def run():
        plugin = AGEMPlugin(patterns_per_experience=5, sample_size=4, seed=3)
        for exp in _id_stream([30, 30]):
            plugin.update_memory(exp.dataset, torch.device("cpu"))
        return plugin.buffers[1].x, plugin.sample_memory()[0]

    (m1, b1), (m2, b2) = run(), run()
    assert torch.equal(m1, m2) and torch.equal(b1, b2)


# -- the projection inside the training loop ---------------------------------------------
def _signed_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear loss -(2y - 1) * out: its gradient w.r.t. w is -(2y - 1) x, whatever w is."""
    return -((2 * y - 1).float() * out.squeeze(1)).mean()


def _one_pattern(x: list[float], y: int, e: int) -> Experience:
    return Experience(ClassificationDataset(torch.tensor([x]), torch.tensor([y])), e)


def _train_two(second_x: list[float]) -> tuple[torch.Tensor, torch.Tensor, AGEMPlugin]:
    model = nn.Linear(2, 1, bias=False)
    plugin = AGEMPlugin(patterns_per_experience=1, sample_size=1, seed=0)
    strategy = _strategy(model, plugin, lr=0.1, mb=1, criterion=_signed_loss)
    strategy.train(_one_pattern([1.0, 0.0], 1, 0))  # memory: x=(1, 0), g_ref = (-1, 0)
    before = model.weight.detach().clone()
    strategy.train(_one_pattern(second_x, 1, 1))
    return before, model.weight.detach().clone(), plugin


def test_opposing_gradient_is_projected_before_the_update():
    # current x = (-1, 1): g = (1, -1), g.g_ref = -1 < 0
    # projected: (1, -1) - (-1 / 1) (-1, 0) = (0, -1); SGD step: -0.1 * (0, -1)
    before, after, plugin = _train_two([-1.0, 1.0])
    torch.testing.assert_close(after - before, torch.tensor([[0.0, 0.1]]))
    assert (plugin.n_steps, plugin.n_projections) == (1, 1)
    assert plugin.history[1] == {"experience": 1, "steps": 1, "projections": 1, "rate": 1.0}
    assert plugin.projection_rates == {1: 1.0}


def test_agreeing_gradient_is_applied_unchanged():
    # current x = (1, 1): g = (-1, -1), g.g_ref = 1 > 0: plain SGD step (0.1, 0.1)
    before, after, plugin = _train_two([1.0, 1.0])
    torch.testing.assert_close(after - before, torch.tensor([[0.1, 0.1]]))
    assert (plugin.n_steps, plugin.n_projections) == (1, 0)
    assert plugin.history[0]["steps"] == 0  # nothing to protect on the first experience


def test_update_equals_projected_gradient_of_a_real_network():
    """An MLP step: the applied update is -lr * project_gradient(g, g_ref), recomputed here."""
    torch.manual_seed(0)
    stream = _id_stream([16, 16], dim=4)
    model = SimpleMLP(num_classes=2, input_size=4, hidden_size=6, drop_rate=0.0)
    plugin = AGEMPlugin(patterns_per_experience=8, sample_size=8, seed=0)
    strategy = _strategy(model, plugin, lr=0.5, mb=16)
    strategy.train(stream[0])
    params = list(model.parameters())
    w0 = torch.cat([p.detach().flatten() for p in params])
    # the oracle: both gradients by hand on the same batches
    x_ref, y_ref = plugin.buffers[0].x, plugin.buffers[0].y  # all 8 memory patterns
    g_ref = torch.autograd.grad(nn.functional.cross_entropy(model(x_ref), y_ref), params)
    x, y = stream[1].dataset.x, stream[1].dataset.y  # one batch of the whole experience
    g = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), params)
    g, g_ref = torch.cat([t.flatten() for t in g]), torch.cat([t.flatten() for t in g_ref])
    strategy.train(stream[1])
    w1 = torch.cat([p.detach().flatten() for p in params])
    torch.testing.assert_close(w1 - w0, -0.5 * project_gradient(g, g_ref))
    assert plugin.n_projections == int(torch.dot(g, g_ref) < 0)


# -- the strategy ------------------------------------------------------------------------
def _average_accuracy(model: nn.Module, stream) -> float:
    model.eval()
    with torch.no_grad():
        accs = [(model(e.dataset.x).argmax(1) == e.dataset.y).float().mean() for e in stream]
    return float(torch.stack(accs).mean())


def _final_accuracy(name: str, seed: int) -> float:
    torch.manual_seed(seed)
    bm = PermutedDigits(n_experiences=5, seed=seed)
    model = SimpleMLP(num_classes=10, input_size=64, hidden_size=128, drop_rate=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    common = dict(train_mb_size=32, train_epochs=5, evaluator=None, device="cpu", seed=seed)
    if name == "agem":
        strategy = AGEM(model, opt, patterns_per_experience=300, sample_size=256, **common)
    else:
        strategy = Naive(model, opt, **common)
    for exp in bm.train_stream:
        strategy.train(exp)
    return _average_accuracy(model, bm.test_stream)


def test_agem_beats_naive_on_permuted_digits():
    naive = np.mean([_final_accuracy("naive", s) for s in range(3)])
    agem = np.mean([_final_accuracy("agem", s) for s in range(3)])
    assert agem - naive >= 0.08, (naive, agem)


def test_agem_strategy_wires_the_plugin_after_user_plugins():
    model = nn.Linear(3, 2)
    user = AGEMPlugin(patterns_per_experience=1, sample_size=1)
    strategy = AGEM(model, torch.optim.SGD(model.parameters(), lr=0.1), plugins=[user],
                    patterns_per_experience=7, sample_size=5, evaluator=None, device="cpu")
    assert strategy.plugins == [user, strategy.agem_plugin]
    assert (strategy.agem_plugin.patterns_per_experience, strategy.agem_plugin.sample_size) == (
        7, 5)


def test_agem_seed_is_checked():
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64 - 1\] or None, "
                                         r"got -1"):
        AGEMPlugin(patterns_per_experience=5, sample_size=4, seed=-1)
    with pytest.raises(TypeError, match=r"seed must be an int or None, got True"):
        AGEMPlugin(patterns_per_experience=5, sample_size=4, seed=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patterns_per_experience": 0, "sample_size": 4},
         "patterns_per_experience must be a positive int, got 0. Try patterns_per_experience="),
        ({"patterns_per_experience": 2.5, "sample_size": 4},
         "patterns_per_experience must be a positive int, got 2.5"),
        ({"patterns_per_experience": 5, "sample_size": -1},
         "sample_size must be a positive int, got -1. Try sample_size=64"),
        ({"patterns_per_experience": 5, "sample_size": True},
         "sample_size must be a positive int, got True"),
    ],
)
def test_agem_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AGEMPlugin(**kwargs)
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=match):
        AGEM(model, torch.optim.SGD(model.parameters(), lr=0.1), evaluator=None, **kwargs)

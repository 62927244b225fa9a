"""Tests of cltutor.strategies.ar1 and ar1_plugins: latent memory, minibatches, CWR*, freezing."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from cltutor import ReplayPlugin, SimpleMLP, SplitDigits
from cltutor.callbacks import TRAIN_CALLBACKS, SupervisedPlugin
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.evaluation import EvaluationPlugin, InteractiveLogger, accuracy_metrics
from cltutor.models import BatchRenorm2D
from cltutor.strategies.ar1 import AR1, ar1_minibatch_sizes
from cltutor.strategies.ar1_plugins import (
    CWRStarPlugin,
    SynapticIntelligencePlugin,
    cwr_consolidate,
)
from cltutor.strategies.base import Naive


def _stream(sizes: list[int], side: int = 8, classes_per_exp: int = 2, seed: int = 0) -> Stream:
    """Class-incremental toy images: class c is noise around a class-specific pattern."""
    gen = torch.Generator().manual_seed(seed)
    patterns = torch.rand(2 * len(sizes), 1, side, side, generator=gen)
    exps = []
    for e, n in enumerate(sizes):
        y = e * classes_per_exp + torch.arange(n) % classes_per_exp
        x = patterns[y] + 0.1 * torch.randn(n, 1, side, side, generator=gen)
        exps.append(Experience(ClassificationDataset(x, y), e))
    return Stream("train", exps)


def _ar1(**kwargs) -> AR1:
    options = dict(lr=0.01, train_mb_size=16, train_epochs=1, evaluator=None, device="cpu",
                   seed=0)
    return AR1(**{**options, **kwargs})


class _Recorder(SupervisedPlugin):
    """Records minibatch sizes and what the model looked like during each experience."""

    def __init__(self) -> None:
        self.sizes: list[list[tuple[int, int]]] = []
        self.lower_training: list[bool] = []
        self.brn: list[tuple[float, float, float]] = []

    def before_training_exp(self, strategy, **kwargs):
        self.sizes.append([])

    def after_forward(self, strategy, **kwargs):
        self.sizes[-1].append((len(strategy.mb_x), len(strategy.mb_y)))
        self.lower_training.append(strategy.model.lat_features.training)
        assert len(strategy.mb_output) == len(strategy.mb_y)

    def before_training_epoch(self, strategy, **kwargs):
        brn = strategy.model.end_features[0].bn
        self.brn.append((brn.momentum, brn.r_max, brn.d_max))


# -- the minibatch formula -----------------------------------------------------------
def test_minibatch_formula_by_hand():
    assert ar1_minibatch_sizes(40, 30, 10) == (5, 5)  # 40 // ((40 + 30) // 10)
    assert ar1_minibatch_sizes(288, 500, 32) == (12, 20)  # 288 // (788 // 32 = 24)
    assert ar1_minibatch_sizes(1000, 1500, 128) == (52, 76)  # 1000 // 19
    assert ar1_minibatch_sizes(100, 0, 32) == (32, 0)  # empty memory: plain batches
    assert ar1_minibatch_sizes(5, 3, 32) == (5, 27)  # (5 + 3) // 32 = 0 steps -> 1
    assert ar1_minibatch_sizes(50, 5, 32) == (32, 0)  # cur never exceeds the minibatch


def test_strategy_minibatches_follow_the_formula():
    stream = _stream([60, 40, 40])
    recorder = _Recorder()
    strategy = _ar1(rm_sz=30, train_mb_size=10, plugins=[recorder])
    strategy.train(stream)
    assert recorder.sizes[0] == [(10, 10)] * 6  # first experience: plain minibatches
    cur, rep = ar1_minibatch_sizes(40, 30, 10)  # (5, 5)
    for sizes in recorder.sizes[1:]:
        assert sizes == [(cur, cur + rep)] * (40 // cur)


# -- the latent memory ------------------------------------------------------------------
class _LabelLatent(nn.Module):
    """A model whose latent activation is its input's first value: the label, by design."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.lat_features = nn.Flatten()  # (B, 1, 1, 3) -> (B, 3); no parameters to train
        self.end_features = nn.Sequential(nn.Linear(3, 8), nn.ReLU())
        self.output = nn.Linear(8, num_classes, bias=False)

    def forward(self, x):
        return self.output(self.end_features(self.lat_features(x)))


def _label_stream(sizes: list[int]) -> Stream:
    exps = []
    for e, n in enumerate(sizes):
        y = 2 * e + torch.arange(n) % 2
        x = torch.stack([y.float(), torch.randn(n), torch.randn(n)], 1).view(n, 1, 1, 3)
        exps.append(Experience(ClassificationDataset(x, y), e))
    return Stream("train", exps)


def test_every_stored_label_matches_its_activation():
    torch.manual_seed(0)
    stream = _label_stream([50, 50, 50, 50])
    strategy = _ar1(model=_LabelLatent(8), rm_sz=40, train_mb_size=8)
    for exp in stream:
        strategy.train(exp)  # shuffled loaders, as by default
        z, y = strategy.rm
        assert len(y) == 40
        assert torch.equal(z[:, 0], y.float())


def test_memory_holds_rm_sz_after_the_first_experience_and_replaces_h_slots():
    stream = _label_stream([50, 50, 50, 50])
    strategy = _ar1(model=_LabelLatent(8), rm_sz=30, train_mb_size=8)
    expected_share = {1: 15, 2: 10, 3: 7}  # h = rm_sz // (i + 1)
    for i, exp in enumerate(stream):
        strategy.train(exp)
        z, y = strategy.rm
        assert z.shape == (30, 3) and y.shape == (30,)
        per_exp = torch.bincount(y // 2, minlength=4).tolist()
        assert sum(per_exp) == 30
        if i > 0:
            assert per_exp[i] == expected_share[i]  # exactly h slots hold the new experience
        assert len(torch.unique(z[y // 2 == i], dim=0)) == per_exp[i]  # distinct patterns


def test_memory_fills_up_before_replacing():
    stream = _label_stream([40, 40, 40, 40])
    strategy = _ar1(model=_LabelLatent(8), rm_sz=100, train_mb_size=8)
    counts = []
    for exp in stream:
        strategy.train(exp)
        counts.append(torch.bincount(strategy.rm[1] // 2, minlength=4).tolist())
    assert counts[0] == [40, 0, 0, 0]
    assert counts[1] == [40, 40, 0, 0]
    # 20 free slots left, but the share is h = 100 // 3 = 33: 13 random old slots go too
    assert counts[2][2] == 33 and sum(counts[2]) == 100 and counts[2][0] + counts[2][1] == 67
    assert counts[3][3] == 100 // 4 and sum(counts[3]) == 100  # full: h = 25 replacements


def test_an_experience_meeting_a_nearly_full_memory_still_stores_its_share():
    stream = _label_stream([29, 50, 50])
    strategy = _ar1(model=_LabelLatent(8), rm_sz=30, train_mb_size=8)
    counts = []
    for exp in stream:
        strategy.train(exp)
        z, y = strategy.rm
        assert torch.equal(z[:, 0], y.float())  # pairs intact in replaced slots too
        counts.append(torch.bincount(y // 2, minlength=3).tolist())
    assert counts[0] == [29, 0, 0]
    assert counts[1] == [15, 15, 0]  # 1 free slot + 14 replaced: h = 30 // 2, not 1
    assert counts[2][2] == 10 and sum(counts[2]) == 30  # full: h = 30 // 3


def test_replay_rows_reshuffle_and_cycle_the_memory():
    strategy = _ar1(model=_LabelLatent(8), rm_sz=20, train_mb_size=8)
    strategy.n_memory, strategy.replay_mb_size = 20, 5
    first, second = strategy._replay_schedule(8), strategy._replay_schedule(8)  # 40 rows
    assert first.shape == (8, 5)
    assert torch.bincount(first.flatten(), minlength=20).tolist() == [2] * 20
    assert len(torch.unique(first[:4])) == 20  # one full pass before any slot repeats
    assert not torch.equal(first, second)


# -- CWR* ---------------------------------------------------------------------------------
def test_cwr_consolidation_by_hand():
    W = torch.tensor([[1.0, 3.0], [5.0, 7.0], [9.0, 9.0]])
    saved = torch.tensor([[0.0, 0.0], [2.0, 4.0], [6.0, 6.0]])
    past_j, cur_j = torch.tensor([0.0, 30.0, 5.0]), torch.tensor([10.0, 30.0, 0.0])
    new_saved, new_past = cwr_consolidate(W, saved, past_j, cur_j)
    # mean over the current rows (0, 1) = 4; class 0 is new: W[0] - 4 = (-3, -1);
    # class 1: a = sqrt(30 / 30) = 1, ((2, 4) * 1 + (1, 3)) / 2; class 2 not current
    expected = torch.tensor([[-3.0, -1.0], [1.5, 3.5], [6.0, 6.0]])
    torch.testing.assert_close(new_saved, expected)
    torch.testing.assert_close(new_past, torch.tensor([10.0, 60.0, 5.0]))


def test_cwr_consolidation_weights_past_by_square_root_of_counts():
    W = torch.tensor([[4.0], [0.0]])  # mean 2: w = (2, -2)
    saved = torch.tensor([[8.0], [1.0]])
    new_saved, _ = cwr_consolidate(W, saved, torch.tensor([40.0, 0.0]), torch.tensor([10.0, 5.0]))
    a = 2.0  # sqrt(40 / 10)
    torch.testing.assert_close(new_saved, torch.tensor([[(8 * a + 2) / (a + 1)], [-2.0]]))


def test_cwr_plugin_resets_and_sets_rows():
    layer = nn.Linear(2, 3, bias=False)
    plugin = CWRStarPlugin("output")
    strategy = SimpleNamespace(
        model=nn.ModuleDict({"output": layer}),
        experience=SimpleNamespace(dataset=SimpleNamespace(targets=torch.tensor([0, 0, 1]))),
        rm=(torch.zeros(1, 2), torch.tensor([2])),  # class 2 only in the latent memory
    )
    plugin.saved_weights = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    plugin.past_j = torch.tensor([4.0, 0.0, 9.0])
    plugin.before_training_exp(strategy)
    torch.testing.assert_close(plugin.cur_j, torch.tensor([2.0, 1.0, 1.0]))
    # seen and current -> saved rows; class 1 is new -> 0
    torch.testing.assert_close(layer.weight.data, torch.tensor([[1.0, 1.0], [0, 0], [3.0, 3]]))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[2.0, 4.0], [6.0, 8.0], [0.0, 0.0]]))
    plugin.after_training_exp(strategy)
    expected, _ = cwr_consolidate(layer.weight.data.new_tensor([[2.0, 4.0], [6.0, 8.0], [0, 0]]),
                                  torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),
                                  torch.tensor([4.0, 0.0, 9.0]), torch.tensor([2.0, 1.0, 1.0]))
    torch.testing.assert_close(layer.weight.data, expected)  # every seen row consolidated


def test_output_rows_are_the_consolidated_ones_after_training():
    strategy = _ar1(rm_sz=30)
    strategy.train(_stream([40, 40]))
    torch.testing.assert_close(strategy.model.output.weight.data,
                               strategy.cwr_plugin.saved_weights)
    assert strategy.cwr_plugin.past_j[:4].gt(0).all() and strategy.cwr_plugin.past_j[4:].eq(0).all()


# -- freezing, BatchRenorm schedule, optimizer -------------------------------------------
def _lower_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.lat_features.state_dict().items()
            if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize("ewc_lambda", [0.0, 1.0])
def test_lower_layers_do_not_change_after_the_first_experience(ewc_lambda):
    stream = _stream([40, 40, 40])
    strategy = _ar1(rm_sz=30, ewc_lambda=ewc_lambda)
    strategy.train(stream[0])
    lower, upper = _lower_state(strategy.model), strategy.model.end_features[0].conv.weight.clone()
    strategy.train(stream[1:])
    after = _lower_state(strategy.model)
    assert after.keys() == lower.keys() and len(lower) > 0
    for name in lower:
        assert torch.equal(after[name], lower[name]), name  # weights and BatchRenorm stats
    assert not torch.equal(strategy.model.end_features[0].conv.weight, upper)


def test_brn_schedule_modes_and_optimizer_per_experience():
    recorder = _Recorder()
    strategy = _ar1(rm_sz=30, plugins=[recorder], inc_lr=0.003, train_epochs=2,
                    init_update_rate=0.02, inc_update_rate=1e-4, max_r_max=1.5, max_d_max=0.7)
    strategy.train(_stream([40, 40]))
    momentum0, r0, d0 = recorder.brn[0]
    assert (momentum0, r0, d0) == (0.02, 1.0, 0.0)  # first experience starts the ramp
    assert 1.0 < recorder.brn[1][1] < 1.5  # grew during epoch 1
    assert recorder.brn[2] == recorder.brn[3] == (1e-4, 1.5, 0.7)  # later: fixed at the maximum
    n0 = len(recorder.sizes[0])
    assert all(recorder.lower_training[:n0]) and not any(recorder.lower_training[n0:])
    group = strategy.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.003, 0.9, 0.0005)
    trainable = {id(p) for p in strategy.model.parameters() if p.requires_grad}
    assert {id(p) for p in group["params"]} == trainable
    assert not any(p.requires_grad for p in strategy.model.lat_features.parameters())


def test_freeze_below_layer_can_freeze_upper_layers_too():
    strategy = _ar1(rm_sz=30, latent_layer_num=1, freeze_below_layer="end_features.1")
    stream = _stream([40, 40])
    strategy.train(stream[0])
    block0 = strategy.model.end_features[0].conv.weight.clone()
    strategy.train(stream[1])
    assert torch.equal(strategy.model.end_features[0].conv.weight, block0)
    assert strategy.model.end_features[1].conv.weight.requires_grad


def test_builds_the_network_from_the_input_shape_and_the_stream_classes():
    strategy = _ar1(rm_sz=10)
    strategy.train(_stream([12, 12, 12], side=28)[0])
    assert strategy.model.output.out_features == 6  # classes 0..5 in the stream
    assert strategy.rm[0].shape == (10, 64, 7, 7)
    assert sum(isinstance(m, BatchRenorm2D) for m in strategy.model.modules()) == 4


def test_si_penalty_is_added_from_the_second_experience():
    strategy = _ar1(rm_sz=30, ewc_lambda=100.0)
    si = strategy.plugins[0]
    assert isinstance(si, SynapticIntelligencePlugin)
    strategy.train(_stream([40, 40])[0])
    assert all(not n.startswith("output") for n in si.importance)
    assert any(v.gt(0).any() for v in si.importance.values())
    assert all(v.ge(0).all() and v.le(si.clip_to).all() for v in si.importance.values())
    si.before_training_exp(strategy)
    assert float(si.penalty().detach()) == 0.0  # at the anchor
    with torch.no_grad():
        for p in si.params.values():
            p.add_(0.1)
    expected = sum(float((si.importance[n] * 0.01).sum()) for n in si.params)
    assert float(si.penalty().detach()) == pytest.approx(expected, rel=1e-4)


# -- accuracy -------------------------------------------------------------------------------
def _average_accuracy(model: nn.Module, stream) -> float:
    model.eval()
    with torch.no_grad():
        accs = [(model(e.dataset.x).argmax(1) == e.dataset.y).float().mean() for e in stream]
    return float(torch.stack(accs).mean())


def _final_accuracy(name: str, seed: int) -> float:
    torch.manual_seed(seed)
    bm = SplitDigits(n_experiences=5, seed=seed)
    common = dict(train_mb_size=32, train_epochs=2, evaluator=None, device="cpu", seed=seed)
    if name == "ar1":
        strategy = AR1(lr=0.01, rm_sz=300, **common)
    else:
        model = SimpleMLP(num_classes=10, input_size=64, hidden_size=128, drop_rate=0.0)
        strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.05), **common)
    for exp in bm.train_stream:
        strategy.train(exp)
    return _average_accuracy(strategy.model, bm.test_stream)


def test_ar1_beats_naive_on_split_digits():
    naive = np.mean([_final_accuracy("naive", s) for s in range(3)])
    ar1 = np.mean([_final_accuracy("ar1", s) for s in range(3)])
    assert ar1 - naive >= 0.20, (naive, ar1)


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.bad_input("Q23")
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0}, ValueError, r"lr must be a finite number > 0, got 0\. Try lr=0.001"),
        ({"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
        ({"inc_lr": -1.0}, ValueError, r"inc_lr must be a finite number > 0, got -1.0"),
        ({"inc_lr": float("inf")}, ValueError, r"inc_lr must be a finite number > 0, got inf"),
        ({"momentum": -0.1}, ValueError, r"momentum must be a finite number >= 0, got -0.1"),
        # Q22: a non-finite momentum
        ({"momentum": float("inf")}, ValueError,
         r"momentum must be a finite number >= 0, got inf\. Try momentum=0.9"),
        ({"l2": "0"}, TypeError, r"l2 must be a finite number >= 0, got '0'\. Try l2=0.0005"),
        ({"ewc_lambda": -1}, ValueError, r"ewc_lambda must be a finite number >= 0, got -1"),
        ({"init_update_rate": 0.0}, ValueError,
         r"init_update_rate must be a finite number > 0 and <= 1, got 0.0"),
        ({"inc_update_rate": 2.0}, ValueError,
         r"inc_update_rate must be a finite number >= 0 and <= 1, got 2.0"),
        ({"max_r_max": 0.5}, ValueError, r"max_r_max must be a finite number >= 1, got 0.5"),
        ({"max_d_max": -0.5}, ValueError, r"max_d_max must be a finite number >= 0, got -0.5"),
        ({"inc_step": -1e-5}, ValueError, r"inc_step must be a finite number >= 0, got -1e-05"),
        ({"rm_sz": 0}, ValueError, r"rm_sz must be a positive int, got 0\. Try rm_sz=1500"),
        ({"latent_layer_num": 4}, ValueError,
         r"latent_layer_num must be an int in \[0, 3\], got 4\. It is a block index"),
        # Q23: a bool is not a block index
        ({"latent_layer_num": True}, ValueError,
         r"latent_layer_num must be an int in \[0, 3\], got True\. It is a block index"),
        ({"latent_layer_num": -1}, ValueError, r"latent_layer_num must be an int in \[0, 3\]"),
        ({"num_classes": 0}, ValueError, r"num_classes must be a positive int or None, got 0"),
        ({"model": nn.Linear(2, 2)}, TypeError,
         r"model must have lat_features .* its lat_features is NoneType"),
        ({"model": _LabelLatent(4), "freeze_below_layer": "features.3"}, ValueError,
         r"freeze_below_layer='features.3' names no layer of the model"),
        # the built network's layer names are known at construction: checked there too
        ({"freeze_below_layer": ""}, ValueError, r"freeze_below_layer='' names no layer"),
        ({"freeze_below_layer": "end_features.5"}, ValueError,
         r"freeze_below_layer='end_features.5' names no layer of the model"),
        ({"latent_layer_num": 3}, ValueError,  # every block below the cut: end_features is
         r"freeze_below_layer='end_features' names no layer .* lat_features.3.bn, output\.$"),
        ({"model": _LabelLatent(4), "num_classes": 10}, ValueError,
         r"num_classes must be None or the model's 4 outputs when a model is given, got 10"),
        # N20 for AR1: one plugin, not in a list
        ({"plugins": ReplayPlugin(mem_size=10)}, TypeError,
         r"plugins must be a list of plugins, got a single ReplayPlugin"),
    ],
)
def test_ar1_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        _ar1(**kwargs)


def test_ar1_type_errors_and_misuse():
    with pytest.raises(TypeError, match="freeze_below_layer must be a layer name"):
        _ar1(freeze_below_layer=3)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or None, got str"):
        _ar1(model="mobilenet")
    with pytest.raises(RuntimeError, match="builds its network at the first train"):
        _ar1().eval(_stream([8]))
    lone = Experience(ClassificationDataset(torch.rand(8, 1, 8, 8), torch.arange(8) % 2), 0)
    with pytest.raises(ValueError, match="pass num_classes=benchmark.n_classes"):
        _ar1().train(lone)


# Q29: a CWR* layer name the model does not have fails before training, listing its layers
def test_q29_cwr_plugin_with_a_wrong_layer_name_lists_the_model_layers():
    model = SimpleMLP(num_classes=4, input_size=64, hidden_size=8)
    seen = []

    class _Steps(SupervisedPlugin):
        def before_training_iteration(self, strategy, **kwargs):
            seen.append(1)

    strategy = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=8,
                     plugins=[CWRStarPlugin("nonexistent"), _Steps()], evaluator=None,
                     device="cpu")
    with pytest.raises(ValueError, match=(
        r"layer_name must name the model's output layer \(a module with a 2-D weight, as "
        r"nn.Linear\), got 'nonexistent'\. SimpleMLP's layers: features, features.0, .*"
        r"classifier; with a 2-D weight: features.1, classifier\. "
        r"Try CWRStarPlugin\('classifier'\)")):
        strategy.train(_stream([16]))
    assert seen == []  # no step was taken
    with pytest.raises(ValueError, match=r"got 'features.0'.*Try CWRStarPlugin\('classifier'\)"):
        CWRStarPlugin("features.0").before_training(SimpleNamespace(model=model))  # a Flatten
    with pytest.raises(TypeError, match=r"layer_name must be the name of the model's output "
                                        r"layer \(a str\), got 3\. Try CWRStarPlugin"):
        CWRStarPlugin(3)


# Q30: labels beyond num_classes: one clear error before the first step of the experience
def test_q30_ar1_labels_beyond_num_classes_name_num_classes_and_the_fix():
    stream = _stream([16, 16])  # classes 0, 1 then 2, 3
    strategy = _ar1(num_classes=2, rm_sz=8)
    strategy.train(stream[0])  # classes 0 and 1 fit
    match = (r"num_classes must be more than the largest label \(3\), got 2 \(the rows of the "
             r"output layer 'output'\)\. Build the model with num_classes=benchmark.n_classes; "
             r"AR1 also takes num_classes=None")
    with pytest.raises(ValueError, match=match):
        strategy.train(stream[1])
    model = SimpleMLP(num_classes=3, input_size=64, hidden_size=8)
    naive = Naive(model, torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=8,
                  plugins=[CWRStarPlugin("classifier")], evaluator=None, device="cpu")
    with pytest.raises(ValueError, match=r"largest label \(3\), got 3 \(the rows of the output "
                                         r"layer 'classifier'\)"):
        naive.train(stream)


# -- a nested eval() inside training (fault: replay latents were not saved and restored) --
def _nested_eval(self, strategy, **kwargs):
    modes = [m.training for m in strategy.model.modules()]
    strategy.eval(self.stream)
    self.calls += 1
    assert strategy.is_training and [m.training for m in strategy.model.modules()] == modes


#: a plugin that evaluates ``stream`` from every training callback
_EvalFromEveryCallback = type("_EvalFromEveryCallback", (SupervisedPlugin,), {
    "__init__": lambda self, stream: setattr(self, "stream", stream) or setattr(self, "calls", 0),
    **{name: _nested_eval for name in TRAIN_CALLBACKS},
})


def _accuracy_matrix(strategy, train_stream, test_stream) -> np.ndarray:
    """Row i: accuracy on each test experience after training on experience i."""
    rows = []
    for exp in train_stream:
        strategy.train(exp)
        strategy.model.eval()
        with torch.no_grad():
            rows.append([float((strategy.model(e.dataset.x).argmax(1) == e.dataset.y)
                               .float().mean()) for e in test_stream])
    return np.array(rows)


def test_a_nested_eval_from_any_training_callback_leaves_ar1_training_intact():
    bm = SplitDigits(n_experiences=5, seed=0)
    train, test = bm.train_stream[:2], bm.test_stream[:2]
    options = dict(rm_sz=64, train_mb_size=32, train_epochs=2, seed=3)
    plain = _accuracy_matrix(_ar1(**options), train, test)
    nested = _EvalFromEveryCallback(test[:1])
    with_evals = _accuracy_matrix(_ar1(plugins=[nested], **options), train, test)
    assert nested.calls > 2 * len(TRAIN_CALLBACKS)  # every callback, both experiences
    assert np.array_equal(plain, with_evals)  # eval draws no random numbers training uses


# -- seed= alone reproduces a run (issue 12, item 6) ---------------------------------------
def _ar1_run_after_global_seed(global_seed: int) -> np.ndarray:
    bm = SplitDigits(n_experiences=5, seed=0)
    torch.manual_seed(global_seed)  # a different global state before each run
    before = torch.random.get_rng_state()
    strategy = _ar1(rm_sz=64, train_mb_size=32, seed=7)
    matrix = _accuracy_matrix(strategy, bm.train_stream[:2], bm.test_stream[:2])
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator untouched
    return matrix


def test_seed_alone_reproduces_ar1_bit_for_bit():
    assert np.array_equal(_ar1_run_after_global_seed(123), _ar1_run_after_global_seed(456))


def test_seed_alone_reproduces_an_ar1_model_with_dropout():
    class _DropoutNet(_LabelLatent):
        def __init__(self):
            super().__init__(8)
            self.end_features = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.5))

    def run(global_seed):
        torch.manual_seed(0)  # the same data and initial weights, built by the user
        stream, model = _label_stream([40, 40]), _DropoutNet()
        strategy = _ar1(model=model, rm_sz=20, train_mb_size=8, seed=5)
        torch.manual_seed(global_seed)
        strategy.train(stream)
        return model.end_features[0].weight.detach().clone()

    assert torch.equal(run(123), run(456))


# -- a fault inside a callback leaves nothing behind (fault seen in the same run) -----------
def _raise(self, strategy, **kwargs):
    raise self.error


def _raiser(event: str, error: BaseException) -> SupervisedPlugin:
    plugin = type("_Raise", (SupervisedPlugin,), {event: _raise})()
    plugin.error = error
    return plugin


@pytest.fixture
def open_bars():
    """A function counting the tqdm bars opened during the test; they are closed after it."""
    from tqdm import tqdm  # every tqdm.auto bar is one of these

    before = set(tqdm._instances)
    yield lambda: len(set(tqdm._instances) - before)
    for bar in set(tqdm._instances) - before:  # left open by a failure: not the next test's
        bar.close()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()],
                         ids=["error", "ctrl-c"])
@pytest.mark.parametrize("event", ["before_forward", "after_eval_forward"])
def test_a_fault_in_a_callback_closes_bars_and_restores_the_model_modes(event, error, open_bars):
    logger = InteractiveLogger(file=io.StringIO())
    stream = _stream([16, 16])
    strategy = _ar1(rm_sz=8, evaluator=EvaluationPlugin(accuracy_metrics(epoch=True,
                                                                          experience=True),
                                                        loggers=[logger]))
    strategy.train(stream[0])
    strategy.model.train()
    modes = [m.training for m in strategy.model.modules()]
    strategy.plugins.insert(0, _raiser(event, error))
    with pytest.raises(type(error)):
        strategy.train(stream[1]) if event == "before_forward" else strategy.eval(stream)
    if event == "after_eval_forward":
        assert [m.training for m in strategy.model.modules()] == modes
        assert strategy.is_training is False  # as after a complete eval() outside train()
    assert open_bars() == 0
    strategy.plugins.pop(0)
    strategy.train(stream[1])  # and the strategy still trains


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"si_lambda": -1.0}, ValueError, r"si_lambda must be a finite number >= 0, got -1.0"),
        ({"si_lambda": "1"}, TypeError, r"si_lambda must be a finite number >= 0, got '1'"),
        ({"si_lambda": 1.0, "eps": 0}, ValueError, r"eps must be a finite number > 0, got 0"),
        ({"si_lambda": 1.0, "clip_to": float("inf")}, ValueError,
         r"clip_to must be a finite number > 0, got inf"),
        ({"si_lambda": 1.0, "excluded_parameters": "output"}, TypeError,  # not letter by letter
         r"excluded_parameters must be a sequence of parameter-name prefixes \(str\), got "
         r"'output'\. Write excluded_parameters=\('output',\)"),
        ({"si_lambda": 1.0, "excluded_parameters": [3]}, TypeError,
         r"excluded_parameters must be a sequence .* got \[3\]"),
    ],
)
def test_si_plugin_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SynapticIntelligencePlugin(**kwargs)


def test_the_latent_memory_holds_only_what_it_stores_even_for_a_huge_rm_sz():
    stream = _stream([40, 40])
    strategy = _ar1(rm_sz=10**12)
    strategy.train(stream[0])
    z, y = strategy.rm
    assert strategy.n_memory == 40 and strategy.rm_z.shape[0] == 40 == len(y)
    strategy.train(stream[1])
    assert strategy.n_memory == strategy.rm_z.shape[0] == 80


def test_d12_an_empty_experience_is_refused_by_name_before_the_network_is_built():
    empty = Experience(ClassificationDataset(torch.zeros(0, 1, 8, 8),
                                             torch.zeros(0, dtype=torch.long)), 0)
    with pytest.raises(ValueError, match=r"experiences must hold at least one row each"):
        _ar1().train(empty)

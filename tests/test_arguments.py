"""What a strategy is given: the model, optimizer, loss, device and plugins at construction,
and the data of ``train()`` against the model at its first minibatch.

Each test names the bad-input id (``bad-inputs.md``) it covers.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from cltutor import AGEM, Naive, Replay, ReplayPlugin, SimpleCNN, SimpleMLP, SupervisedPlugin
from cltutor.data import ClassificationDataset, Experience, Stream
from cltutor.strategies.arguments import check_plugins, resolve_device


def digits_like(n=24, labels=(0, 1), x=None, seed=0):
    """``n`` rows of 1x8x8 images with the given labels, cycled.

    ``x`` and ``labels`` the dataset itself refuses (1-D ``x``, negative labels) are set
    after construction, as a hand-edited or duck-typed dataset would hold them: the
    strategy's own check is what these tests are about.
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.tensor(labels).repeat(n // len(labels) + 1)[:n]
    dataset = ClassificationDataset(torch.rand(n, 1, 8, 8, generator=g), y.clamp(min=0))
    dataset.y = y
    if x is not None:
        dataset.x = x
    return dataset


def experience(dataset, k=0, stream="train"):
    return Stream(stream, [Experience(dataset, k)])[0]


def naive(model=None, **kwargs):
    torch.manual_seed(0)
    model = SimpleMLP(input_size=64, hidden_size=16) if model is None else model
    optimizer = kwargs.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.1)
    kwargs = {"train_mb_size": 8, "device": "cpu", "evaluator": None, **kwargs}
    return Naive(model, optimizer, **kwargs)


def unchanged(model):
    return [p.detach().clone() for p in model.parameters()]


# -- labels at the first minibatch --------------------------------------------------
def test_d9_negative_label_names_y_and_the_output_range():
    strategy = naive()
    before = unchanged(strategy.model)
    with pytest.raises(ValueError, match=r"y must be class indices in \[0, 9\] for a SimpleMLP "
                                         r"with 10 outputs, got the label -1 .*y - y.min\(\)"):
        strategy.train(experience(digits_like(labels=(0, -1))))
    # the check ran before the first optimizer step
    assert all(torch.equal(a, b) for a, b in zip(before, strategy.model.parameters(), strict=True))


def test_d10_label_beyond_the_outputs_names_the_largest_label_and_the_fix():
    with pytest.raises(ValueError, match=r"y must be class indices in \[0, 9\] for a SimpleMLP "
                                         r"with 10 outputs, got the largest label 12 .*"
                                         r"SimpleMLP\(num_classes=13\)"):
        naive().train(experience(digits_like(labels=(3, 12))))


def test_m2_two_class_model_on_a_ten_class_stream_suggests_num_classes_10():
    stream = Stream("train", [Experience(digits_like(labels=(2 * k, 2 * k + 1)), k)
                              for k in range(5)])
    strategy = naive(SimpleMLP(num_classes=2, input_size=64, hidden_size=16))
    strategy.train(stream[0])  # labels 0 and 1 fit two outputs
    with pytest.raises(ValueError, match=r"y must be .* 2 outputs, got the largest label 7 .*"
                                         r"SimpleMLP\(num_classes=10\)"):
        strategy.train(stream[3])


def test_a_label_in_a_later_minibatch_is_caught_at_the_first():
    labels = (0,) * 23 + (11,)  # only the last row is out of range: not in the first minibatch
    with pytest.raises(ValueError, match=r"y must be .* got the largest label 11"):
        naive(seed=0).train(experience(digits_like(labels=labels)))


def test_custom_criterion_skips_the_label_check():
    def criterion(out, y):  # labels 0..19 folded onto 10 outputs: the learner's own choice
        return nn.functional.cross_entropy(out, y % 10)

    naive(criterion=criterion).train(experience(digits_like(labels=(3, 15))))


# -- inputs the model cannot take ---------------------------------------------------
@pytest.mark.parametrize(
    "case, model, x, match",
    [
        ("M1", SimpleMLP(input_size=784), torch.rand(24, 1, 8, 8),
         r"x must fit SimpleMLP, which takes 784 features per sample, got per-sample shape "
         r"\(1, 8, 8\) and dtype torch.float32. Use SimpleMLP\(input_size=64\)"),
        ("M3", SimpleCNN(in_channels=3), torch.rand(24, 1, 8, 8),
         r"x must fit SimpleCNN, which takes images of shape \(3, H, W\), got per-sample shape "
         r"\(1, 8, 8\).* Use SimpleCNN\(in_channels=1\)"),
        ("M10", SimpleCNN(), torch.rand(24, 64),
         r"x must fit SimpleCNN, .*got per-sample shape \(64,\).* x.view\(-1, 1, 8, 8\)"),
        ("D14", SimpleMLP(input_size=64), torch.rand(24),
         r"x must fit SimpleMLP, .*got per-sample shape \(\).* x.reshape\(-1, 1\)"),
        ("D21", SimpleMLP(input_size=64), torch.randint(0, 16, (24, 64)),
         r"x must fit SimpleMLP, .*dtype torch.int64. Convert x with x.float\(\)"),
    ],
)
def test_m1_m3_m10_d14_d21_input_the_model_cannot_take(case, model, x, match):
    strategy = naive(model)
    with pytest.raises(ValueError, match=match) as info:
        strategy.train(experience(digits_like(x=x)))
    assert "(torch: " in str(info.value) and info.value.__cause__ is not None


def test_first_batch_check_runs_once_per_experience_not_per_iteration(monkeypatch):
    import cltutor.strategies.base as base

    calls = []
    real = base.first_forward

    def counting(strategy):
        calls.append(strategy.clock.train_exp_iterations)
        return real(strategy)

    monkeypatch.setattr(base, "first_forward", counting)
    stream = Stream("train", [Experience(digits_like(n=40), k) for k in range(2)])
    strategy = naive(train_epochs=2)
    strategy.train(stream)
    strategy.train(stream[0])
    assert calls == [0, 0, 0]  # each experience's first iteration only, no matter the epochs


# -- the experiences given to train() ---------------------------------------------
def test_d12_empty_experience_is_refused_by_name():
    with pytest.raises(ValueError, match=r"experiences must hold at least one row each, got "
                                         r"Experience\(train\[4\], n=0"):
        naive().train(experience(digits_like().subset([]), k=4))


def test_n18_training_on_the_test_stream_warns():
    with pytest.warns(UserWarning, match=r"train\(\) was given Experience\(test\[0\].*"
                                         r"benchmark.train_stream"):
        naive().train(experience(digits_like(), stream="test"))


def test_n33_eval_streams_without_eval_every_warns():
    exp = experience(digits_like())
    with pytest.warns(UserWarning, match=r"eval_streams is used only when eval_every >= 0, "
                                         r"got eval_every=-1"):
        naive().train(exp, eval_streams=[exp])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        naive(eval_every=0).train(exp, eval_streams=[exp])


# -- the loss ---------------------------------------------------------------------
def test_n4_criterion_as_a_string():
    with pytest.raises(TypeError, match=r"criterion must be a callable loss\(output, y\), got "
                                        r"'cross_entropy'. Use criterion=nn.CrossEntropyLoss\(\)"):
        naive(criterion="cross_entropy")


def test_n5_criterion_as_the_class_not_an_instance():
    with pytest.raises(TypeError, match=r"criterion must be a loss object, got the class "
                                        r"CrossEntropyLoss itself. Write "
                                        r"criterion=nn.CrossEntropyLoss\(\)"):
        naive(criterion=nn.CrossEntropyLoss)


# -- the optimizer ----------------------------------------------------------------
def test_n6_optimizer_on_another_models_parameters():
    other = SimpleMLP(input_size=64, hidden_size=16)
    with pytest.raises(ValueError, match=r"optimizer must update the parameters of the model "
                                         r"it trains, got 4 parameter\(s\).*model.parameters\(\)"):
        naive(optimizer=torch.optim.SGD(other.parameters(), lr=0.1))


class TemperedLoss(nn.Module):
    """Cross-entropy with a learnable temperature: a loss with a parameter of its own."""

    def __init__(self):
        super().__init__()
        self.log_t = nn.Parameter(torch.zeros(()))

    def forward(self, out, y):
        return nn.functional.cross_entropy(out / self.log_t.exp(), y)


def test_optimizer_on_a_subset_or_with_the_losss_parameters_is_fine():
    model = SimpleMLP(input_size=64, hidden_size=16)
    naive(model, optimizer=torch.optim.SGD(model.classifier.parameters(), lr=0.1))
    loss = TemperedLoss()
    params = [*model.parameters(), *loss.parameters()]
    naive(model, optimizer=torch.optim.SGD(params, lr=0.1), criterion=loss).train(
        experience(digits_like()))
    with pytest.raises(ValueError, match=r"optimizer must update"):
        Naive(model, torch.optim.SGD(params, lr=0.1), device="cpu")


@pytest.mark.parametrize(
    "case, options, match",
    [
        ("C10", {"lr": 0}, r"the optimizer's lr must be a finite number > 0, got 0. Try lr=0.01"),
        ("C23", {"lr": float("nan")}, r"the optimizer's lr must be a finite number > 0, got nan"),
        ("lr inf", {"lr": float("inf")}, r"the optimizer's lr must be a finite number > 0"),
        ("Q22", {"lr": 0.1, "momentum": float("inf")},
         r"the optimizer's momentum must be a finite number >= 0, got inf. Try momentum=0.9"),
        ("weight decay", {"lr": 0.1, "weight_decay": float("nan")},
         r"the optimizer's weight_decay must be a finite number >= 0, got nan"),
    ],
)
def test_c10_c23_q22_optimizer_hyperparameters(case, options, match):
    model = SimpleMLP(input_size=64, hidden_size=16)
    with pytest.raises(ValueError, match=match):
        naive(model, optimizer=torch.optim.SGD(model.parameters(), **options))


def test_optimizer_hyperparameters_in_a_second_param_group_are_named():
    model = SimpleMLP(input_size=64, hidden_size=16)
    groups = [{"params": model.features.parameters()},
              {"params": model.classifier.parameters(), "lr": 0.0}]
    with pytest.raises(ValueError, match=r"the optimizer's lr \(param_groups\[1\]\) must be"):
        naive(model, optimizer=torch.optim.SGD(groups, lr=0.1))


def test_tensor_lr_and_adam_are_accepted():
    model = SimpleMLP(input_size=64, hidden_size=16)
    naive(model, optimizer=torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1)))
    naive(model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))


# -- loop sizes -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eval_every": True}, r"eval_every must be an int >= -1, got True"),  # N24
        ({"train_mb_size": float("inf")}, r"train_mb_size must be a positive int, got inf"),
        ({"train_mb_size": True}, r"train_mb_size must be a positive int, got True"),
        ({"train_epochs": float("nan")}, r"train_epochs must be a positive int, got nan"),
        ({"eval_mb_size": 0}, r"eval_mb_size must be a positive int or None, got 0"),
    ],
)
def test_n24_and_loop_sizes_are_strict_ints(kwargs, match):
    with pytest.raises(ValueError, match=match):
        naive(**kwargs)


# -- the device -------------------------------------------------------------------
def test_n15_cpu_with_an_index():
    with pytest.raises(ValueError, match=r"device must be 'cpu' \(torch does not number CPUs\), "
                                         r"got 'cpu:3'. Use device='cpu'"):
        resolve_device("cpu:3")
    assert resolve_device("cpu:0").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_n16_torch_device_cuda_without_a_gpu_is_checked_like_the_string():
    with pytest.raises(ValueError, match=r"device='cuda' asks for a GPU but torch sees none"):
        naive(device=torch.device("cuda"))
    with pytest.raises(ValueError, match=r"device='cuda:3' asks for a GPU"):
        resolve_device("cuda:3")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_n15_cuda_index_beyond_the_gpus():
    n = torch.cuda.device_count()
    with pytest.raises(ValueError, match=rf"device must be 'cuda' or 'cuda:N' with N < {n}"):
        resolve_device(f"cuda:{n}")


def test_other_device_types_are_refused():
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', "
                                         r"got 'meta'"):
        resolve_device(torch.device("meta"))
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


# -- plugins ----------------------------------------------------------------------
@pytest.mark.parametrize("build", ["naive", "replay", "agem"])
def test_n20_a_lone_plugin_not_in_a_list(build):
    model = SimpleMLP(input_size=64, hidden_size=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    make = {
        "naive": lambda: Naive(model, opt, plugins=ReplayPlugin()),
        "replay": lambda: Replay(model, opt, plugins=ReplayPlugin()),
        "agem": lambda: AGEM(model, opt, patterns_per_experience=5, plugins=ReplayPlugin()),
    }[build]
    with pytest.raises(TypeError, match=r"plugins must be a list of plugins, got a single "
                                        r"ReplayPlugin. Write plugins=\[ReplayPlugin\(...\)\]"):
        make()


def test_plugins_as_a_tuple_or_none_and_a_string_refused():
    plugin = SupervisedPlugin()
    assert check_plugins((plugin,)) == [plugin] and check_plugins(None) == []
    with pytest.raises(TypeError, match=r"plugins must be a list of SupervisedPlugin instances, "
                                        r"got 'replay'"):
        check_plugins("replay")


def test_replay_seed_at_the_top_of_the_range_is_accepted():
    model = SimpleMLP(input_size=64, hidden_size=16)
    strategy = Replay(model, torch.optim.SGD(model.parameters(), lr=0.1), seed=2**64 - 1,
                      device="cpu", evaluator=None)
    assert strategy.replay_plugin.seed == 0


def test_a_loss_that_diverges_warns_once_naming_the_fixes():
    import torch

    from cltutor import SimpleMLP, SplitDigits, SynapticIntelligence

    bm = SplitDigits(5, scenario="domain", seed=0)
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=2, input_size=64, hidden_size=64, drop_rate=0.0)
    strategy = SynapticIntelligence(model, torch.optim.SGD(model.parameters(), lr=0.05,
                                                           momentum=0.9),
                                    si_lambda=1.0, eps=1e-7, train_mb_size=32, train_epochs=5,
                                    evaluator=None, device="cpu", seed=0)
    with pytest.warns(RuntimeWarning, match=r"the training loss is nan after epoch \d of "
                                            r"experience \d: the weights have diverged.*"
                                            r"si_lambda") as caught:
        for exp in bm.train_stream:
            strategy.train(exp)
    assert len([w for w in caught if "diverged" in str(w.message)]) == 1

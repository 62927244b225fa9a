"""Tests of cltutor.data streams and digits: class splits, task labels, seeds, permutations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torchvision.transforms.functional import InterpolationMode, rotate

from cltutor import (
    BENCHMARKS,
    PermutedDigits,
    RotatedDigits,
    SplitDigits,
    class_incremental_benchmark,
    get_benchmark,
)
from cltutor.data import (
    ClassificationDataset,
    digits_train_test,
    domain_incremental_benchmark,
    permute_pixels,
    rotate_images,
    split_online_stream,
)


def _all_x(stream) -> torch.Tensor:
    return torch.cat([e.dataset.x for e in stream])


def _same_stream(a, b) -> bool:
    pairs = zip(a.train_stream + a.test_stream, b.train_stream + b.test_stream, strict=True)
    return all(
        torch.equal(ea.dataset.x, eb.dataset.x)
        and torch.equal(ea.dataset.y, eb.dataset.y)
        and torch.equal(ea.dataset.t, eb.dataset.t)
        for ea, eb in pairs
    )


def _toy(n_classes: int = 6, per_class: int = 3) -> ClassificationDataset:
    # x holds the row number, so every row can be traced back
    n = n_classes * per_class
    return ClassificationDataset(torch.arange(n).float()[:, None], torch.arange(n) % n_classes)


# -- the digits and their split --------------------------------------------------
def test_split_digits_shapes_dtypes_and_range():
    bm = SplitDigits()
    for stream in (bm.train_stream, bm.test_stream):
        x = _all_x(stream)
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 8, 8)
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
        assert all(e.dataset.y.dtype == torch.long for e in stream)
    assert len(_all_x(bm.train_stream)) == 1437 and len(_all_x(bm.test_stream)) == 360
    assert bm.n_classes == 10 and bm.n_experiences == 5


def test_digits_split_is_stratified_and_a_partition_of_the_originals():
    train, test = digits_train_test(seed=3)
    digits = load_digits()
    counts = np.bincount(digits.target)
    test_counts = torch.bincount(test.y, minlength=10).numpy()
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 1)  # stratified 80/20 per class
    # train + test rows are exactly the 1,797 originals (images scaled by 1/16), none twice
    orig = sorted(
        (bytes(img.astype(np.float32).tobytes()), int(c))
        for img, c in zip(digits.images / 16, digits.target, strict=True)
    )
    ours = torch.cat([train.x, test.x]).view(-1, 8, 8).numpy()
    got = sorted(
        (bytes(img.tobytes()), int(c))
        for img, c in zip(ours, torch.cat([train.y, test.y]), strict=True)
    )
    assert got == orig


# -- class splits -----------------------------------------------------------------
@pytest.mark.parametrize("n_experiences", [1, 2, 5, 10])
def test_class_split_disjoint_covering_and_in_order(n_experiences):
    bm = SplitDigits(n_experiences=n_experiences, seed=4)
    order = bm.classes_order
    assert sorted(order) == list(range(10))
    per = 10 // n_experiences
    for stream in (bm.train_stream, bm.test_stream):
        for i, exp in enumerate(stream):
            assert exp.current_experience == i
            assert exp.classes_in_this_experience == order[i * per : (i + 1) * per]
            assert exp.dataset.classes == sorted(order[i * per : (i + 1) * per])
    n_train = sum(len(e.dataset) for e in bm.train_stream)
    assert n_train == 1437


def test_class_incremental_rows_are_exactly_the_rows_of_their_classes():
    ds = _toy()
    bm = class_incremental_benchmark(ds, ds, 3, fixed_class_order=[5, 0, 3, 1, 4, 2])
    assert bm.classes_order == [5, 0, 3, 1, 4, 2]
    for exp, classes in zip(bm.train_stream, [[5, 0], [3, 1], [4, 2]], strict=True):
        assert exp.classes_in_this_experience == classes
        expected_rows = sorted(r for r in range(18) if r % 6 in classes)
        assert sorted(exp.dataset.x[:, 0].long().tolist()) == expected_rows
        assert torch.equal(exp.dataset.y, exp.dataset.x[:, 0].long() % 6)  # rows stay paired
        assert exp.dataset.x.is_contiguous()


def test_task_labels_in_both_modes():
    ti = SplitDigits(return_task_id=True)
    ci = SplitDigits(return_task_id=False)
    for stream_ti, stream_ci in (
        (ti.train_stream, ci.train_stream),
        (ti.test_stream, ci.test_stream),
    ):
        for i, (a, b) in enumerate(zip(stream_ti, stream_ci, strict=True)):
            assert a.task_label == i and bool((a.dataset.t == i).all())
            assert b.task_label == 0 and bool((b.dataset.t == 0).all())


def test_class_ids_from_zero_in_each_exp_relabels_by_position():
    plain = SplitDigits(seed=2)
    zero = SplitDigits(seed=2, class_ids_from_zero_in_each_exp=True, return_task_id=True)
    assert zero.n_classes == 2 and zero.classes_order == plain.classes_order
    for a, b in zip(plain.train_stream, zero.train_stream, strict=True):
        assert b.classes_in_this_experience == [0, 1]
        pos = torch.tensor([a.classes_in_this_experience.index(c) for c in a.dataset.y.tolist()])
        assert torch.equal(b.dataset.y, pos)
        assert torch.equal(a.dataset.x, b.dataset.x)


# -- seeds --------------------------------------------------------------------------
def test_same_seed_same_stream_different_seed_different_order():
    assert _same_stream(SplitDigits(seed=7), SplitDigits(seed=7))
    a, b = SplitDigits(seed=0), SplitDigits(seed=1)
    assert a.classes_order != b.classes_order
    assert not torch.equal(_all_x(a.test_stream).sum(0), _all_x(b.test_stream).sum(0))


def test_seed_is_local_and_none_follows_torch_global_generator():
    torch.manual_seed(11)
    state = torch.get_rng_state()
    SplitDigits(seed=0)
    assert torch.equal(torch.get_rng_state(), state)  # no global side effect
    torch.manual_seed(5)
    a = SplitDigits(seed=None)
    torch.manual_seed(5)
    b = SplitDigits(seed=None)
    assert _same_stream(a, b)


def test_fixed_class_order_takes_precedence_over_seed():
    order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    a = SplitDigits(fixed_class_order=order, seed=0)
    b = SplitDigits(fixed_class_order=order, seed=0)
    assert a.classes_order == order
    assert [e.classes_in_this_experience for e in a.train_stream][0] == [9, 8]
    assert _same_stream(a, b)


# -- permutations -----------------------------------------------------------------
def test_permute_pixels_matches_elementwise_oracle():
    x = torch.rand(3, 2, 2, 3)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    out = permute_pixels(x, perm)
    flat = x.reshape(3, 12)
    for n in range(3):
        for j in range(12):
            assert out.reshape(3, 12)[n, j] == flat[n, perm[j]]


def _columns(x: torch.Tensor) -> list[bytes]:
    # every pixel position as one column over all images, shape (N, 64) -> 64 columns
    return sorted(bytes(col.numpy().tobytes()) for col in x.reshape(len(x), -1).T.contiguous())


def test_permuted_digits_experiences_are_one_permutation_of_the_originals():
    bm = PermutedDigits(n_experiences=4, seed=1)
    train, test = digits_train_test(seed=1)
    both = torch.cat([train.x, test.x])  # train and test must share each experience's permutation
    assert torch.equal(bm.train_stream[0].dataset.x, train.x)  # experience 0: identity
    assert torch.equal(bm.test_stream[0].dataset.x, test.x)
    for k in range(1, 4):
        xk = torch.cat([bm.train_stream[k].dataset.x, bm.test_stream[k].dataset.x])
        assert _columns(xk) == _columns(both)  # same pixel columns, rearranged
        assert not torch.equal(xk, both)
        assert torch.equal(bm.train_stream[k].dataset.y, train.y)
    assert not torch.equal(bm.train_stream[1].dataset.x, bm.train_stream[2].dataset.x)
    for exp in bm.train_stream:
        assert exp.classes_in_this_experience == list(range(10))
    assert _same_stream(bm, PermutedDigits(n_experiences=4, seed=1))
    assert not _same_stream(bm, PermutedDigits(n_experiences=4, seed=2))


def test_permuted_task_labels():
    bm = PermutedDigits(n_experiences=3, return_task_id=True)
    assert [e.task_label for e in bm.test_stream] == [0, 1, 2]
    assert [e.task_label for e in PermutedDigits(n_experiences=3).train_stream] == [0, 0, 0]


# -- rotations ----------------------------------------------------------------------
@pytest.mark.parametrize("angle,k", [(90, 1), (180, 2), (-90, -1), (270, 3)])
def test_rotate_images_right_angles_equal_rot90(angle, k):
    x = torch.rand(5, 2, 7, 7)
    assert torch.allclose(rotate_images(x, angle), torch.rot90(x, k, dims=(-2, -1)), atol=1e-6)
    xu = (x * 255).to(torch.uint8)
    assert torch.equal(rotate_images(xu, angle), torch.rot90(xu, k, dims=(-2, -1)))


@pytest.mark.parametrize("angle", [45, -30, 17.5])
def test_rotate_images_matches_torchvision_bilinear(angle):
    x = torch.rand(20, 1, 9, 9)
    expected = rotate(x, angle, interpolation=InterpolationMode.BILINEAR)
    assert torch.allclose(rotate_images(x, angle, chunk=7), expected, atol=1e-5)


def test_rotated_digits_given_angles():
    bm = RotatedDigits(n_experiences=3, rotations_list=[0, 90, -90], seed=2, return_task_id=True)
    train, test = digits_train_test(seed=2)
    assert torch.equal(bm.train_stream[0].dataset.x, train.x)
    rot = torch.rot90(test.x, 1, dims=(-2, -1))
    assert torch.allclose(bm.test_stream[1].dataset.x, rot, atol=1e-6)
    assert torch.allclose(
        bm.train_stream[2].dataset.x, torch.rot90(train.x, -1, (-2, -1)), atol=1e-6
    )
    assert [e.task_label for e in bm.train_stream] == [0, 1, 2]


def test_rotated_digits_default_angles_from_seed():
    bm = RotatedDigits(n_experiences=4, seed=0)
    train, _ = digits_train_test(seed=0)
    assert torch.equal(bm.train_stream[0].dataset.x, train.x)  # 0 degrees first
    for exp in bm.train_stream[1:]:
        assert not torch.equal(exp.dataset.x, train.x)
        assert exp.classes_in_this_experience == list(range(10))
    assert _same_stream(bm, RotatedDigits(n_experiences=4, seed=0))
    assert not _same_stream(bm, RotatedDigits(n_experiences=4, seed=1))


# -- registry -------------------------------------------------------------------------
def test_get_benchmark_builds_the_registered_benchmark():
    assert {"split-digits", "permuted-digits", "rotated-digits"} <= set(BENCHMARKS)
    assert _same_stream(get_benchmark("split-digits", seed=3), SplitDigits(seed=3))
    assert _same_stream(
        get_benchmark("rotated-digits", n_experiences=2, seed=3), RotatedDigits(2, seed=3)
    )
    assert _same_stream(get_benchmark("permuted-digits", seed=3), PermutedDigits(seed=3))


# -- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"n_experiences": 3}, ValueError, r"n_experiences must divide the 10 classes.*got 3"),
        ({"n_experiences": 0}, ValueError, r"n_experiences must be in \[1, 10\].*got 0"),
        ({"n_experiences": 11}, ValueError, r"n_experiences must be in \[1, 10\].*got 11"),
        ({"n_experiences": 2.0}, TypeError, r"n_experiences must be an int, got 2.0"),
        ({"seed": "0"}, TypeError, r"seed must be an int or None, got '0'"),
        ({"return_task_id": 1}, TypeError, r"return_task_id must be True or False, got 1"),
        ({"fixed_class_order": [0] * 10}, ValueError, r"fixed_class_order must be a permutation"),
        ({"fixed_class_order": [0, 1, 2]}, ValueError, r"permutation of the classes.*got \[0, 1"),
        ({"fixed_class_order": [0.5] * 10}, TypeError, r"fixed_class_order must be a 1-D seq"),
        ({"fixed_class_order": "0123456789"}, TypeError, r"fixed_class_order must be a sequence"),
    ],
)
def test_split_digits_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SplitDigits(**kwargs)


def test_class_incremental_errors():
    ds = _toy()
    with pytest.raises(TypeError, match=r"train_ds must be a cltutor ClassificationDataset"):
        class_incremental_benchmark(torch.zeros(3), ds, 2)
    with pytest.raises(ValueError, match=r"test_ds is empty"):
        class_incremental_benchmark(ds, ds.subset([]), 2)
    extra = ClassificationDataset(torch.zeros(2, 1), torch.tensor([0, 9]))
    with pytest.raises(ValueError, match=r"test_ds has classes \[9\] that train_ds lacks"):
        class_incremental_benchmark(ds, extra, 2)
    with pytest.raises(ValueError, match=r"Use one of \[1, 2, 3, 6\]"):
        class_incremental_benchmark(ds, ds, 4)


def test_domain_incremental_errors():
    with pytest.raises(ValueError, match=r"n_experiences must be >= 1, got 0"):
        PermutedDigits(n_experiences=0)
    with pytest.raises(ValueError, match=r"rotations_list must hold one angle per experience"):
        RotatedDigits(n_experiences=3, rotations_list=[0, 90])
    with pytest.raises(ValueError, match=r"angles must be numbers of degrees in \[-180, 180\]"):
        RotatedDigits(n_experiences=2, rotations_list=[0, 270])
    with pytest.raises(ValueError, match=r"in \[-180, 180\], got '90'"):
        RotatedDigits(n_experiences=2, rotations_list=[0, "90"])
    with pytest.raises(
        ValueError, match=r"benchmark must be one of \[.*'split-digits'.*got 'mnist'"
    ):
        get_benchmark("mnist")


# -- the MNIST-sized stream of the throughput scripts ---------------------------------
def _common():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
    spec = importlib.util.spec_from_file_location("bench_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_sized_benchmark_small():
    common = _common()
    bm = common.mnist_sized_benchmark(n_train=300, n_test=50, seed=1)
    assert bm.n_experiences == 5 and bm.classes_order == SplitDigits(seed=1).classes_order
    x = _all_x(bm.train_stream)
    assert x.shape == (300, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert len(_all_x(bm.test_stream)) == 50
    # each row is its source digit, upsampled, plus noise of std 0.1 (clamped to [0, 1])
    train, _ = digits_train_test(seed=1)
    up = torch.nn.functional.interpolate(train.x, size=(28, 28), mode="bilinear")
    exp = bm.train_stream[0]
    src = up[torch.isin(train.y, torch.tensor(exp.classes_in_this_experience))]
    first = exp.dataset.x[0]
    err = (first[None] - src).flatten(1).pow(2).mean(1).sqrt()  # RMS distance to each source
    assert 0.03 < float(err.min()) < 0.12
    assert _same_stream(bm, common.mnist_sized_benchmark(n_train=300, n_test=50, seed=1))
    with pytest.raises(ValueError, match=r"n_train must be an int >= 10, got 5"):
        common.mnist_sized_benchmark(n_train=5)


# -- bad inputs (bad-inputs.md ids in the test names) ------------------------------------
def test_b34_negative_labels_fail_before_the_benchmark():
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match=r"y must hold class labels >= 0, got -1 at row 0"):
        class_incremental_benchmark(ClassificationDataset(x, [-1, 0, 1, 2]), _toy(), 2)
    ds = ClassificationDataset(x, [0, 1, 2, 3])
    ds.y[0] = -1  # changed after construction: class_incremental_benchmark looks again
    with pytest.raises(ValueError, match=r"train_ds class labels must be >= 0, got -1\. "
                                         r".*torch\.unique\(y, return_inverse=True\)"):
        class_incremental_benchmark(ds, ds, 2)


def test_b35_train_and_test_feature_shapes_must_match():
    train = ClassificationDataset(torch.rand(4, 3), [0, 1, 0, 1])
    test = ClassificationDataset(torch.rand(4, 5), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"test_ds inputs must have train_ds's per-sample shape "
                                         r"\(3,\), got \(5,\)\. .*\(N, 3\)"):
        class_incremental_benchmark(train, test, 2)
    with pytest.raises(ValueError, match=r"test_ds inputs must have .* \(3,\), got \(5,\)"):
        domain_incremental_benchmark(train, test, [lambda x: x])


@pytest.mark.parametrize("seed", [-1, 2**40, 2**32])  # B14, B15
@pytest.mark.parametrize("build", [SplitDigits, PermutedDigits, RotatedDigits, digits_train_test])
def test_b14_b15_seed_outside_sklearns_range_is_our_error(build, seed, monkeypatch):
    import sklearn.model_selection

    def never(*args, **kwargs):
        raise AssertionError("train_test_split ran with a bad seed")

    monkeypatch.setattr(sklearn.model_selection, "train_test_split", never)
    with pytest.raises(ValueError, match=rf"seed must be an int in \[0, 2\*\*32 - 1\] or None, "
                                         rf"got {seed}\. Use seed=0 for a fixed result"):
        build(seed=seed)


@pytest.mark.parametrize("views", [[], None, "identity", [lambda x: x, 3]])
def test_domain_incremental_views_must_be_functions(views):
    ds = _toy()
    with pytest.raises(TypeError, match=r"views must be a non-empty list of functions, one per "
                                        r"experience, got .*Example: views=\["):
        domain_incremental_benchmark(ds, ds, views)


# -- online streams ------------------------------------------------------------
def test_split_online_stream_cuts_each_experience_into_pieces_that_partition_it():
    bm = SplitDigits(n_experiences=5, seed=0)
    online = split_online_stream(bm.train_stream, experience_size=10, seed=0)
    assert online.name == "train" and online.scenario == bm.train_stream.scenario
    assert [e.current_experience for e in online] == list(range(len(online)))
    for origin in bm.train_stream:
        pieces = [e for e in online if e.origin_experience is origin]
        n = len(origin.dataset)
        assert [len(p.dataset) for p in pieces] == [10] * (n // 10) + [n % 10] * (n % 10 > 0)
        assert [p.is_first_subexp for p in pieces] == [True] + [False] * (len(pieces) - 1)
        assert [p.is_last_subexp for p in pieces] == [False] * (len(pieces) - 1) + [True]
        assert {p.sub_stream_length for p in pieces} == {len(pieces)}
        rows = torch.cat([p.dataset.x for p in pieces]).flatten(1)
        assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, origin.dataset.x.flatten(1)
                                                               .tolist()))
        for p in pieces:
            assert set(p.classes_in_this_experience) <= set(origin.classes_in_this_experience)


def test_split_online_stream_order_drop_last_and_seed():
    stream = SplitDigits(n_experiences=5, seed=0).train_stream[:1]
    in_order = split_online_stream(stream, 50, shuffle=False)
    assert torch.equal(in_order[0].dataset.x, stream[0].dataset.x[:50])
    dropped = split_online_stream(stream, 50, drop_last=True, seed=0)
    assert [len(e.dataset) for e in dropped] == [50] * (len(stream[0].dataset) // 50)
    a, b, c = (split_online_stream(stream, 50, seed=s) for s in (0, 0, 1))
    assert torch.equal(a[0].dataset.x, b[0].dataset.x)
    assert not torch.equal(a[0].dataset.x, c[0].dataset.x)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"stream": [1, 2]}, TypeError, r"stream must be a cltutor Stream .*got list"),
    ({"experience_size": 0}, ValueError, r"experience_size must be a positive int, got 0"),
    ({"shuffle": "yes"}, TypeError, r"shuffle must be True or False"),
])
def test_split_online_stream_bad_input(kwargs, error, match):
    args = {"stream": SplitDigits(n_experiences=5).train_stream, "experience_size": 10, **kwargs}
    with pytest.raises(error, match=match):
        split_online_stream(**args)


# -- imbalanced streams --------------------------------------------------------------------
def test_imbalanced_stream_keeps_a_fraction_of_each_experience_in_order():
    from cltutor import ExperienceBalancedBuffer, ReservoirSamplingBuffer, SplitDigits
    from cltutor.data import halving_fractions, imbalanced_stream

    bm = SplitDigits(n_experiences=5, seed=0)
    small = imbalanced_stream(bm.train_stream, halving_fractions(5), seed=0)
    assert small.name == "train" and small.scenario == bm.train_stream.scenario
    for exp, full, f in zip(small, bm.train_stream, halving_fractions(5), strict=True):
        assert len(exp.dataset) == max(1, round(f * len(full.dataset)))
        assert exp.current_experience == full.current_experience
        assert exp.classes_in_this_experience == full.classes_in_this_experience
        assert exp.origin_stream is small
        rows = {tuple(r.tolist()) for r in full.dataset.x.flatten(1)}
        assert all(tuple(r.tolist()) in rows for r in exp.dataset.x.flatten(1))  # a subset
    again = imbalanced_stream(bm.train_stream, halving_fractions(5), seed=0)
    assert all(torch.equal(a.dataset.x, b.dataset.x) for a, b in zip(small, again, strict=True))
    # the point of it: a reservoir now differs from an experience-balanced buffer
    reservoir = ReservoirSamplingBuffer(100, seed=0)
    balanced = ExperienceBalancedBuffer(100, seed=0)
    for exp in small:
        for buffer in (reservoir, balanced):
            buffer.update(SimpleNamespace(experience=exp))
    assert [len(g) for g in balanced.buffer_groups.values()] == [20, 20, 20, 20, 18]
    experience_of = {c: e.current_experience for e in small for c in e.classes_in_this_experience}
    first = sum(experience_of[int(y)] == 0 for y in reservoir.buffer.targets)
    assert first > 40  # about 291 / 560 of 100


def test_imbalanced_stream_input_errors():
    from cltutor import SplitDigits
    from cltutor.data import imbalanced_stream

    stream = SplitDigits(n_experiences=2, seed=0).train_stream
    with pytest.raises(ValueError, match=r"fractions must be a list of one fraction per "
                                         r"experience \(2\), got \[0.5\]. Try fractions="
                                         r"halving_fractions\(2\)"):
        imbalanced_stream(stream, [0.5])
    with pytest.raises(ValueError, match=r"fractions\[1\] must be a finite number > 0 and <= 1, "
                                         r"got 0"):
        imbalanced_stream(stream, [1.0, 0])
    with pytest.raises(TypeError, match="stream must be a cltutor Stream"):
        imbalanced_stream([1, 2], [1.0, 1.0])

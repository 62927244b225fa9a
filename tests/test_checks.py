"""cltutor._checks: one message shape for every parameter check, and the seeded generators."""

import math

import numpy as np
import pytest
import torch

from cltutor._checks import (
    SKLEARN_SEED_END,
    check_bool,
    check_int_range,
    check_number,
    check_positive_int,
    check_seed,
    is_int,
    make_generator,
    next_seed,
    resolve_seed,
)


def test_is_int_takes_python_and_numpy_ints_but_not_bools():
    assert is_int(3) and is_int(np.int64(3))
    assert not any(is_int(v) for v in (True, 3.0, "3", None))


@pytest.mark.parametrize("value", [0, -3, 2.0, "5", True, None])
def test_positive_int_message_names_the_parameter_the_value_and_the_fix(value):
    with pytest.raises(ValueError) as info:
        check_positive_int("mem_size", value, "Use mem_size=200 for a small memory.")
    assert str(info.value) == (f"mem_size must be a positive int, got {value!r}. "
                               "Use mem_size=200 for a small memory.")


def test_positive_int_accepts_none_only_when_allowed():
    check_positive_int("batch_size_mem", None, allow_none=True)
    check_positive_int("batch_size_mem", 8, allow_none=True)
    with pytest.raises(ValueError, match="must be a positive int or None, got 0"):
        check_positive_int("batch_size_mem", 0, allow_none=True)


def test_int_range():
    check_int_range("latent_layer_num", 2, 0, 3)
    with pytest.raises(ValueError, match=r"latent_layer_num must be an int in \[0, 3\], got 4\."):
        check_int_range("latent_layer_num", 4, 0, 3)
    with pytest.raises(ValueError, match=r"eval_every must be an int >= -1, got -2\."):
        check_int_range("eval_every", -2, -1, None)


@pytest.mark.parametrize("value", [0, -0.1, math.nan, math.inf, -math.inf])
def test_number_refuses_out_of_range_and_non_finite_values(value):
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got .*\. Try lr=0.01"):
        check_number("lr", value, "Try lr=0.01.", low=0, low_open=True)


@pytest.mark.parametrize("value", ["0.1", True, None, [0.1]])
def test_number_refuses_what_is_not_a_number(value):
    with pytest.raises(TypeError, match=r"momentum must be a finite number >= 0 and <= 1, got"):
        check_number("momentum", value, low=0, high=1)


def test_number_bounds_closed_and_open():
    check_number("rate", 1, low=0, high=1)
    check_number("rate", np.float32(0.5), low=0, high=1, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"rate must be a finite number > 0 and < 1, got 1\."):
        check_number("rate", 1, low=0, high=1, low_open=True, high_open=True)


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None])
def test_bool_is_strict(value):
    with pytest.raises(TypeError, match=rf"shuffle must be True or False, got {value!r}\. "
                                        r"Write shuffle=False\."):
        check_bool("shuffle", value)


def test_seed_checks_kind_and_range():
    check_seed(None)
    check_seed(2**63)
    with pytest.raises(TypeError, match=r"seed must be an int or None, got '0'\. Use seed=0"):
        check_seed("0")
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64 - 1\] or None, "
                                         r"got -1\."):
        check_seed(-1)
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32 - 1\] or None, "
                                         r"got 4294967296\."):
        check_seed(SKLEARN_SEED_END, end=SKLEARN_SEED_END)


def test_make_generator_is_local_and_reproducible():
    before = torch.get_rng_state()
    a = torch.rand(3, generator=make_generator(7))
    b = torch.rand(3, generator=make_generator(7))
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before)
    assert make_generator(None) is None
    with pytest.raises(TypeError, match="seed must be an int or None, got 1.5"):
        make_generator(1.5)


def test_next_seed_draws_what_the_strategies_always_drew():
    g1, g2 = make_generator(3), make_generator(3)
    assert next_seed(g1) == int(torch.randint(2**62, (1,), generator=g2))


def test_resolve_seed_keeps_a_seed_and_draws_one_for_none():
    assert resolve_seed(5) == 5
    torch.manual_seed(0)
    drawn = resolve_seed(None)
    assert 0 <= drawn < 2**31
    with pytest.raises(ValueError, match=r"2\*\*32 - 1"):
        resolve_seed(2**40)  # scikit-learn would refuse it later, deep inside its split

"""Exit criteria of recurrent-depth decoding: values, thresholds, steps per token."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.models import huginn_exits as ex


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def test_values_are_the_textbook_quantities():
    rng = np.random.default_rng(0)
    a, b = _log_softmax(rng.normal(size=(3, 7))), _log_softmax(rng.normal(size=(3, 7)))
    kl = np.sum(np.exp(a) * (a - b), axis=-1)
    np.testing.assert_allclose(np.asarray(ex.kl_divergence(a, b)), kl, rtol=1e-5)
    assert (kl > 0).all()
    uniform = np.full((1, 8), -math.log(8))
    np.testing.assert_allclose(np.asarray(ex.entropy(uniform)), [math.log(8)], rtol=1e-5)
    s, t = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    rel = np.linalg.norm(t - s, axis=-1) / np.linalg.norm(t, axis=-1)
    np.testing.assert_allclose(np.asarray(ex.latent_difference(s, t)), rel, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ex.cosine_distance(s, s)), 0.0, atol=1e-6)


def test_first_step_compares_with_the_reference_starting_values():
    init = np.ones((2, 4), np.float32)
    state = ex.init_exit_state(init, vocab=5)
    logits = np.array([[0.0] * 5, [9.0, 0, 0, 0, 0]], np.float32)
    stop, value, _ = ex.check_exit("kl", 1e-3, state, init, logits)
    # against a uniform start: KL(uniform || uniform) = 0, a peaked guess is far from it
    assert np.asarray(stop).tolist() == [True, False]
    assert float(value[1]) > 1.0
    stop, value, _ = ex.check_exit("entropy-diff", 1e-3, state, init, logits)
    np.testing.assert_allclose(np.asarray(value)[0], 100 - math.log(5), rtol=1e-5)
    stop, value, _ = ex.check_exit("latent-diff", 0.03, state, init, logits)
    assert np.asarray(stop).all() and float(np.abs(value).max()) == 0.0


def test_argmax_stability_counts_consecutive_agreements():
    init = np.zeros((1, 3), np.float32)
    state = ex.init_exit_state(init, vocab=3)
    picks = [0, 0, 1, 1, 1, 1]
    stops, counts = [], []
    for pick in picks:
        logits = np.eye(3, dtype=np.float32)[pick][None] * 5
        stop, value, state = ex.check_exit("argmax-stability", 2, state, init, logits)
        stops.append(bool(stop[0]))
        counts.append(int(value[0]))
    assert counts == [0, 1, 0, 1, 2, 3]
    assert stops == [False, False, False, False, True, True]


def test_exit_steps_takes_the_first_firing_step_and_its_prediction():
    # T=4 steps, 3 positions: logits converge at different steps
    vocab, width = 4, 2
    base = np.zeros((4, 3, vocab), np.float32)
    base[:, 0] = [[3, 0, 0, 0]] * 4  # stable from step 1: KL(step1||step2) = 0 -> exits at 2
    base[:, 1] = [[0, 3, 0, 0], [3, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3]]  # never settles
    base[:, 2] = [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]  # uniform at step 1
    latents = np.ones((4, 3, width), np.float32)
    steps, chosen = ex.exit_steps("kl", 1e-3, base, latents, latents[0])
    assert np.asarray(steps).tolist() == [2, 4, 1]
    np.testing.assert_allclose(np.asarray(chosen)[1], base[3, 1])
    steps, _ = ex.exit_steps("kl", 1e-3, base, latents, latents[0], min_steps=2)
    assert np.asarray(steps).tolist() == [3, 4, 4]
    steps, _ = ex.exit_steps("none", 0.0, base, latents, latents[0])
    assert (np.asarray(steps) == 4).all()


def test_account_reports_steps_loss_and_accuracy():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    acc = ex.account("kl", 1e-3, np.array([2, 6]), logits, np.array([0, 2]), max_steps=8)
    assert acc.mean_steps == 4.0 and acc.tokens == 2 and acc.accuracy == 0.5
    assert acc.loss == pytest.approx(-(math.log(0.5) + math.log(0.1)) / 2)


def test_unknown_criteria_are_refused_with_the_valid_names():
    with pytest.raises(GemstonesInputError, match="valid: kl, entropy-diff"):
        ex.check_criterion("kl2")

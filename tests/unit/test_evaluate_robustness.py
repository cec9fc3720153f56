"""captum's sensitivity_max and infidelity on harxai's map methods, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn
from verdict_models import FRAMES, JOINTS, CellLinear, SmallNet, key_point_data

from harxai.evaluate.robustness import (
    RobustnessSpec,
    infidelity,
    robustness_table,
    sensitivity,
    stratified_subset,
    subset_indices,
)
from harxai.explain.baselines import input_x_gradient_method, random_method


def _weight_map(model: CellLinear):
    def method(m: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        return model.weight.detach().numpy()[target]

    return method


def test_infidelity_is_zero_for_the_true_cell_weights_of_a_linear_model() -> None:
    model = CellLinear().eval()
    x, _ = key_point_data(n=6)
    target = np.array([0, 1, 2, 0, 1, 2])
    spec = RobustnessSpec(normalize=False, seed=3)
    exact = infidelity(model, x, target, _weight_map(model)(model, x, target), spec)
    assert np.all(exact < 1e-8)
    noisy = infidelity(model, x, target, np.random.default_rng(0).normal(size=(6, FRAMES, JOINTS)), spec)
    assert np.all(noisy > 1e-3)
    # a coarse map is resampled: the true weights at half the frames are no longer exact
    coarse = _weight_map(model)(model, x, target)[:, ::2]
    assert np.all(infidelity(model, x, target, coarse, spec) > exact)
    again = infidelity(model, x, target, np.random.default_rng(0).normal(size=(6, FRAMES, JOINTS)), spec)
    np.testing.assert_array_equal(noisy, again)  # seeded perturbations


def test_sensitivity_of_fixed_and_input_maps() -> None:
    model = SmallNet().eval()
    x, _ = key_point_data(n=4)
    target = np.ones(4, dtype=np.int64)
    spec = RobustnessSpec(perturb_radius=0.05, n_perturb_samples=5)

    def fixed(m: nn.Module, inputs: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.ones((len(inputs), FRAMES, JOINTS))

    def raw(m: nn.Module, inputs: np.ndarray, t: np.ndarray) -> np.ndarray:
        return inputs[:, 0, 0, :, :, 0]

    assert np.all(sensitivity(model, x, target, fixed, spec) == 0)
    s = sensitivity(model, x, target, raw, spec)
    # |d| <= radius * std(group 0) per cell, so the relative change is bounded
    bound = (
        0.05
        * x[:, 0].std()
        * np.sqrt(FRAMES * JOINTS)
        / np.linalg.norm(x[:, 0, 0, :, :, 0].reshape(4, -1), axis=1)
    )
    assert np.all(s > 0)
    assert np.all(s <= bound + 1e-6)


def test_robustness_table_and_subset() -> None:
    model = SmallNet().eval()
    x, _ = key_point_data(n=5)
    target = np.ones(5, dtype=np.int64)
    table = robustness_table(
        model,
        x,
        target,
        {"ixg": input_x_gradient_method(), "random": random_method(0)},
        RobustnessSpec(n_perturb_samples=3),
    )
    assert list(table["criterion"]) == ["sensitivity_max", "infidelity"] * 2
    assert (table["n"] == 5).all()
    assert (table["ci_low"] <= table["value"]).all()
    t = table.set_index(["method", "criterion"])
    assert t.loc[("ixg", "sensitivity_max"), "value"] < t.loc[("random", "sensitivity_max"), "value"]
    idx = subset_indices(20, 5, seed=1)
    assert len(set(idx.tolist())) == 5
    np.testing.assert_array_equal(idx, np.sort(idx))
    np.testing.assert_array_equal(subset_indices(3, 5, seed=1), [0, 1, 2])
    with pytest.raises(ValueError, match="n_perturb_samples"):
        RobustnessSpec(n_perturb_samples=0)


def test_stratified_subset_is_seeded_balanced_and_sorted() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    a = stratified_subset(labels, 8, seed=4)
    assert np.array_equal(a, stratified_subset(labels, 8, seed=4))
    assert np.all(np.diff(a) > 0)
    counts = np.bincount(labels[a], minlength=3)
    assert counts.tolist() == [3, 3, 2]  # round robin over labels 0, 1, 2, 0, 1, 2, 0, 1
    big = stratified_subset(labels, 12, seed=4)  # class 1 runs out after 3: the others fill in
    assert np.bincount(labels[big], minlength=3).tolist() == [5, 3, 4]
    assert np.array_equal(stratified_subset(labels, None, seed=4), np.arange(20))
    assert np.array_equal(stratified_subset(labels, 50, seed=4), np.arange(20))
    assert not np.array_equal(a, stratified_subset(labels, 8, seed=5))

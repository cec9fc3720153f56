"""Cascading model-parameter randomisation (Adebayo et al. 2018) on hand-made and harxai models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from test_evaluate_fixtures import LAYOUT
from verdict_models import SmallNet, key_point_data

from harxai.config import FEATURE_GROUPS
from harxai.evaluate.sanity import (
    cascading_randomization,
    cascading_stages,
    parameter_depths,
    randomize_parameters,
    sanity_summary,
    spearman_rows,
)
from harxai.explain.baselines import input_x_gradient_method, motion_energy_method, random_method


def test_spearman_rows_matches_scipy_and_constant_rows_are_zero() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4, 6))
    b = a + rng.normal(size=a.shape)
    b[1] = np.round(b[1])  # ties
    expected = [stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(5)]
    np.testing.assert_allclose(spearman_rows(a, b), expected, rtol=1e-10)
    np.testing.assert_allclose(
        spearman_rows(a, -b, absolute=True),
        [stats.spearmanr(np.abs(a[i]).ravel(), np.abs(b[i]).ravel()).statistic for i in range(5)],
    )
    flat = a.copy()
    flat[2] = 0.0
    assert spearman_rows(flat, b)[2] == 0.0
    with pytest.raises(ValueError, match="shapes"):
        spearman_rows(a, b[:, :2])


def test_depths_order_a_chain_from_the_classifier() -> None:
    x, _ = key_point_data(n=2)
    d = parameter_depths(SmallNet(), x)
    assert d["fc.weight"] < d["conv2.weight"] < d["conv1.weight"]
    stages = cascading_stages(SmallNet(), x, num_stages=3)
    assert [sorted(s.parameters) for s in stages] == [
        ["fc.bias", "fc.weight"],
        ["conv2.bias", "conv2.weight"],
        ["conv1.bias", "conv1.weight"],
    ]


def test_parallel_branches_of_the_harxai_model_share_a_depth() -> None:
    from test_evaluate_fixtures import tiny_model

    net = tiny_model()
    x = np.random.default_rng(0).normal(size=(2, 4, 2, 8, LAYOUT.num_joints, 1)).astype(np.float32)
    d = parameter_depths(net, x)
    assert len({d[f"branches.{g}.init_bn.weight"] for g in FEATURE_GROUPS}) == 1
    assert min(d, key=d.__getitem__).startswith("classifier")
    assert max(d.values()) == d["branches.joint.init_bn.weight"]
    stages = cascading_stages(net, x, num_stages=4)
    assert len(stages) == 4
    assert sorted(p for s in stages for p in s.parameters) == sorted(n for n, _ in net.named_parameters())
    assert stages[0].parameters[0].startswith("classifier")
    explicit = cascading_stages(net, x, prefixes=[["classifier"], ["main"], ["branches"]])
    assert explicit[0].parameters == ("classifier.fc.weight", "classifier.fc.bias")
    with pytest.raises(ValueError, match="matches no parameter"):
        cascading_stages(net, x, prefixes=[["head"]])


def test_randomize_keeps_scale_and_is_seeded() -> None:
    a, b = SmallNet(), SmallNet()
    trained = a.conv1.weight.detach().clone()
    randomize_parameters(a, ["conv1.weight"], seed=3)
    randomize_parameters(b, ["conv1.weight"], seed=3)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.allclose(a.conv1.weight, trained)
    assert float(a.conv1.weight.detach().std()) == pytest.approx(float(trained.std()), rel=0.2)
    assert torch.equal(a.fc.weight, SmallNet().fc.weight)  # untouched


def test_randomised_model_changes_gradient_maps_but_not_model_free_baselines() -> None:
    model = SmallNet()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, _ = key_point_data(n=10)
    target = np.ones(len(x), dtype=np.int64)
    methods = {
        "input_x_gradient": input_x_gradient_method(),
        "motion_energy": motion_energy_method(),
        "random": random_method(0),
    }
    table = cascading_randomization(model, x, target, methods, cascading_stages(model, x[:2], 3), seed=1)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters()), "trained model modified"
    summary = sanity_summary(table).set_index("method")
    assert summary.loc["input_x_gradient", "rho"] < 0.5
    assert not summary.loc["input_x_gradient", "fails"]
    # maps that never look at the model keep rho = 1: they fail the check
    assert summary.loc["motion_energy", "rho"] == pytest.approx(1.0)
    assert summary.loc["random", "fails"]
    assert summary.loc["motion_energy", "fails"]
    assert set(table["stage_index"]) == {0, 1, 2, 3}
    ixg = table[table["method"] == "input_x_gradient"]
    assert (ixg["ci_low"] <= ixg["rho"]).all()
    assert (ixg["rho"] <= ixg["ci_high"]).all()

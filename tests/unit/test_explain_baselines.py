"""Trivial baseline maps: motion energy, random, input x gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from verdict_models import FRAMES, JOINTS, Linear, SmallNet

from harxai.explain.baselines import (
    input_x_gradient,
    keypoint_view,
    motion_energy,
    motion_energy_method,
    random_map,
    random_method,
)


def _inputs(seed: int = 0, n: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2, 2, FRAMES, JOINTS, 2)).astype(np.float32)


def test_motion_energy_is_the_speed_of_each_joint() -> None:
    x = _inputs()
    me = motion_energy(x)
    i, t, v = 1, 4, 2
    expected = sum(np.linalg.norm(x[i, 0, :, t + 1, v, m] - x[i, 0, :, t, v, m]) for m in range(2))
    assert me.shape == (3, FRAMES, JOINTS)
    assert me[i, t, v] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(me[:, -1], me[:, -2])
    only_first = motion_energy(x, group=1, channels=[0])
    assert only_first[0, 0, 0] == pytest.approx(np.abs(x[0, 1, 0, 1, 0] - x[0, 1, 0, 0, 0]).sum(), rel=1e-5)
    still = np.repeat(x[:, :, :, :1], FRAMES, axis=3)
    assert np.all(motion_energy(still) == 0)
    assert motion_energy_method()(Linear(), x, np.zeros(3, int)).shape == (3, FRAMES, JOINTS)
    with pytest.raises(ValueError, match="group 5"):
        motion_energy(x, group=5)
    with pytest.raises(ValueError, match="inputs must be"):
        motion_energy(x[0])


def test_random_map_is_seeded_and_model_free() -> None:
    x = _inputs()
    np.testing.assert_array_equal(random_map(x, 3), random_method(3)(SmallNet(), x, np.zeros(3, int)))
    assert not np.array_equal(random_map(x, 3), random_map(x, 4))
    assert keypoint_view(random_map(x, 3)).shape == (3, JOINTS)


def test_input_x_gradient_equals_autograd_times_input() -> None:
    x = _inputs(n=5)[..., :1]
    model = SmallNet(classes=3).eval()
    target = np.array([0, 2, 1, 1, 0])
    got = input_x_gradient(model, x, target, batch_size=2)
    t = torch.from_numpy(x).requires_grad_(True)
    logits = model(*t.unbind(1))
    logits[torch.arange(5), torch.from_numpy(target)].sum().backward()
    expected = (t.grad * t).detach().sum(dim=(1, 2, 5)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # on a linear model the map sums to W x restricted to each cell; completeness up to the bias
    lin = Linear()
    total = input_x_gradient(lin, x, target).sum(axis=(1, 2))
    logits = lin(*torch.from_numpy(x).unbind(1)).detach().numpy()
    np.testing.assert_allclose(
        total, logits[np.arange(5), target] - lin.fc.bias.detach().numpy()[target], rtol=1e-4
    )
    with pytest.raises(ValueError, match="targets"):
        input_x_gradient(model, x, target[:2])


def test_gradcam_and_shap_map_methods_match_the_explainers() -> None:
    from test_evaluate_fixtures import LAYOUT, tiny_model

    from harxai.explain import shap_values
    from harxai.explain.baselines import gradcam_method, shap_method
    from harxai.explain.cam import gradcam

    net = tiny_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2, 8, LAYOUT.num_joints, 1)).astype(np.float32)
    bg = rng.normal(size=(2, 4, 2, 8, LAYOUT.num_joints, 1)).astype(np.float32)
    target = np.array([0, 2, 1])
    tensors = [torch.from_numpy(x[:, g]) for g in range(4)]
    cam = gradcam_method("main.1.att", batch_size=2)(net, x, target)
    np.testing.assert_allclose(cam, gradcam(net, tensors, "main.1.att", target), rtol=1e-5, atol=1e-7)
    phi = shap_method(bg)(net, x, target)
    ref = shap_values(net, tensors, [torch.from_numpy(bg[:, g]) for g in range(4)], target)
    np.testing.assert_allclose(phi, np.stack(ref.values, axis=1).sum(axis=(1, 2, 5)), rtol=1e-4, atol=1e-6)
    assert phi.shape == (3, 8, LAYOUT.num_joints)


class _FirstGroupOnly(torch.nn.Module):
    """Reads the first of two feature groups only (an external model fed a subset of the groups)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = SmallNet(classes=3)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.inner(first, torch.zeros_like(second))


def test_input_x_gradient_of_a_model_that_ignores_a_group_is_zero_there() -> None:
    x = _inputs(n=4)[..., :1]
    model = _FirstGroupOnly().eval()
    target = np.array([0, 1, 2, 0])
    got = input_x_gradient(model, x, target)
    t = torch.from_numpy(x[:, 0].copy()).requires_grad_(True)
    logits = model.inner(t, torch.zeros_like(torch.from_numpy(x[:, 1])))
    logits[torch.arange(4), torch.from_numpy(target)].sum().backward()
    expected = (t.grad * t).detach().sum(dim=(1, 4)).numpy()  # group 1 contributes nothing
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)

"""GradCAM: captum equality, negated maps, the seed's variant, hooks, errors, shipped model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harxai.explain.cam import GradCam, gradcam, resolve_layer

GROUPS = ("joint", "velocity")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core machine, 2 threads spin against other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyBranch(nn.Module):
    """init_bn -> conv1 -> act1 -> conv2 (frame stride 2) -> act2."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.init_bn = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, hidden, (3, 1), padding=(1, 0))
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(hidden, hidden, (3, 1), stride=(2, 1), padding=(1, 0))
        self.act2 = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.conv2(self.act1(self.conv1(self.init_bn(x)))))


class TinyNet(nn.Module):
    """Two input branches on (sample*person, channel, frame, joint) and a nonlinear head."""

    def __init__(self, channels: int = 3, hidden: int = 5, classes: int = 4, joints: int = 6) -> None:
        super().__init__()
        self.branches = nn.ModuleDict({g: TinyBranch(channels, hidden) for g in GROUPS})
        self.head_conv = nn.Conv2d(2 * hidden, 2 * hidden, (1, 3), padding=(0, 1))
        self.head_act = nn.ReLU()
        self.joint_weight = nn.Parameter(torch.randn(joints))
        self.fc = nn.Linear(2 * hidden, classes)

    def features(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for group, x in zip(GROUPS, inputs, strict=True):
            n, c, t, v, m = x.shape
            outs.append(self.branches[group](x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)))
        return outs

    def head(self, feats: list[torch.Tensor], persons: int) -> torch.Tensor:
        z = self.head_act(self.head_conv(torch.cat(feats, dim=1)))
        z = (z * self.joint_weight).mean(dim=(2, 3))
        return self.fc(z.view(-1, persons, z.shape[1]).mean(dim=1))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(*inputs), inputs[0].shape[-1])


def make_model() -> TinyNet:
    model = TinyNet()
    for branch in model.branches.values():
        branch.init_bn.running_mean.uniform_(-0.5, 0.5)
        branch.init_bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def make_inputs(samples: int = 3, persons: int = 2) -> list[torch.Tensor]:
    return [torch.randn(samples, 3, 8, 6, persons) for _ in GROUPS]


def reference_grads(model: TinyNet, inputs: list[torch.Tensor], target: list[int]) -> tuple[np.ndarray, ...]:
    """Activations and dy/dA of branches.joint.act2 by splitting the forward pass by hand."""
    feats = [f.detach().requires_grad_(True) for f in model.features(*inputs)]
    logits = model.head(feats, inputs[0].shape[-1])
    score = logits[torch.arange(len(target)), torch.tensor(target)].sum()
    (grad,) = torch.autograd.grad(score, feats[0])
    return feats[0].detach().numpy().astype(np.float64), grad.numpy().astype(np.float64)


def seed_steps(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Seed study 2(b) steps on one skeleton (C, T, V) -> (T, V), in numpy."""
    g = grads / (np.sqrt(np.mean(grads**2)) + 1e-8)
    alpha = g.mean(axis=(0, 1))  # (V,)
    raw = np.sum(alpha.reshape(-1, 1, 1, 1) * acts[None], axis=0)  # the seed's broadcast: s * F
    cam = np.maximum(raw.mean(axis=0), 0.0)
    return (cam - cam.min()) / (cam.max() + 1e-8)


def test_resolve_layer_lists_close_matches() -> None:
    model = make_model()
    assert resolve_layer(model, "branches.joint.conv2") is model.branches["joint"].conv2
    with pytest.raises(ValueError, match=r"branches\.joint\.conv2") as err:
        resolve_layer(model, "branches.joint.conv3")
    assert "not a named_modules() path" in str(err.value)


@pytest.mark.parametrize(
    "layer", ["branches.joint.init_bn", "branches.joint.conv1", "branches.velocity.act2"]
)
def test_standard_equals_captum_layer_gradcam(layer: str) -> None:
    from captum.attr import LayerGradCam

    model, inputs, target = make_model(), make_inputs(), [0, 3, 1]
    ours = gradcam(model, inputs, layer, target)
    # captum selects logits[range(sample), target]; the layer output has sample*person rows,
    # which captum accepts as is (it differentiates the summed target logits w.r.t. the layer).
    attr = LayerGradCam(model, resolve_layer(model, layer)).attribute(
        inputs=tuple(inputs), target=target, relu_attributions=True
    )
    expected = attr.detach()[:, 0].reshape(3, 2, *attr.shape[2:]).mean(dim=1).numpy()
    assert ours.shape == expected.shape == (3, *attr.shape[2:])
    assert ours.dtype == np.float32
    assert float(np.abs(ours).max()) > 0
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)


def test_negated_matches_independent_autograd() -> None:
    model, inputs, target = make_model(), make_inputs(), [2, 0, 1]
    acts, grads = reference_grads(model, inputs, target)
    alpha = (-grads).mean(axis=(2, 3), keepdims=True)
    per_person = np.maximum((alpha * acts).sum(axis=1), 0.0)
    expected = per_person.reshape(3, 2, *per_person.shape[1:]).mean(axis=1)
    ours = gradcam(model, inputs, "branches.joint.act2", target, negate=True)
    positive = gradcam(model, inputs, "branches.joint.act2", target)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)
    assert float(expected.max()) > 0
    # ReLU(S) and ReLU(-S): never both positive at the same (sample, person, frame, joint)
    assert not np.allclose(ours, positive)


@pytest.mark.parametrize("negate", [False, True])
def test_shapgcn_matches_numpy_seed_steps(negate: bool) -> None:
    model, inputs, target = make_model(), make_inputs(), [1, 1, 3]
    acts, grads = reference_grads(model, inputs, target)
    sign = -1.0 if negate else 1.0
    maps = np.stack([seed_steps(acts[r], sign * grads[r]) for r in range(acts.shape[0])])
    expected = maps.reshape(3, 2, *maps.shape[1:]).mean(axis=1)
    ours = gradcam(model, inputs, "branches.joint.act2", target, negate=negate, variant="shapgcn")
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)


def test_explain_returns_both_maps_of_one_pass() -> None:
    model, inputs, target = make_model(), make_inputs(), [0, 1, 2]
    result = GradCam(model, "branches.velocity.conv2", "shapgcn").explain(inputs, target)
    np.testing.assert_array_equal(
        result.cam, gradcam(model, inputs, "branches.velocity.conv2", target, variant="shapgcn")
    )
    np.testing.assert_array_equal(
        result.cam_negated,
        gradcam(model, inputs, "branches.velocity.conv2", target, negate=True, variant="shapgcn"),
    )
    assert result.cam.shape == (3, 4, 6)  # frame stride 2


def test_target_changes_standard_map_and_scalar_int_broadcasts() -> None:
    model, inputs = make_model(), make_inputs()
    a = gradcam(model, inputs, "head_conv", 0)
    np.testing.assert_array_equal(a, gradcam(model, inputs, "head_conv", [0, 0, 0]))
    assert not np.allclose(a, gradcam(model, inputs, "head_conv", 1))


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


def test_hooks_removed_after_success_and_exception() -> None:
    model, inputs = make_model(), make_inputs()
    gradcam(model, inputs, "branches.joint.conv1", [0, 1, 2])
    assert _no_hooks(model)
    with pytest.raises(ValueError, match="target outside"):
        gradcam(model, inputs, "branches.joint.conv1", [0, 1, 9])
    assert _no_hooks(model)

    class Boom(RuntimeError):
        pass

    def explode(*_args: object) -> None:
        raise Boom("forward failed")

    handle = model.head_conv.register_forward_pre_hook(explode)
    with pytest.raises(Boom):
        gradcam(model, inputs, "branches.joint.conv1", [0, 1, 2])
    handle.remove()
    assert _no_hooks(model)
    assert all(not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())  # backward stops at the layer


def test_bad_layer_output_shapes_are_named() -> None:
    model, inputs = make_model(), make_inputs()
    with pytest.raises(
        ValueError, match=r"layer 'fc' output has shape \(3, 4\); expected \(sample\*person=6 or sample=3"
    ):
        gradcam(model, inputs, "fc", [0, 0, 0])
    with pytest.raises(ValueError, match="one of standard, shapgcn"):
        gradcam(model, inputs, "head_conv", 0, variant="selvaraju")
    with pytest.raises(ValueError, match=r"one per sample \(3\)"):
        gradcam(model, inputs, "head_conv", [0, 1])


def test_layer_run_twice_is_rejected() -> None:
    shared = TinyBranch(3, 5).eval()

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.branch = shared
            self.fc = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, c, t, v, m = x.shape
            flat = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)
            z = self.branch(flat) + self.branch(flat)
            return self.fc(z.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1))

    with pytest.raises(ValueError, match="ran 2 times"):
        gradcam(Twice().eval(), torch.randn(2, 3, 8, 6, 1), "branch.conv2", 0)


def test_frozen_model_still_gets_gradients() -> None:
    model, inputs, target = make_model(), make_inputs(), [0, 3, 1]
    expected = gradcam(model, inputs, "branches.joint.conv1", target)
    for p in model.parameters():
        p.requires_grad_(False)
    np.testing.assert_allclose(gradcam(model, inputs, "branches.joint.conv1", target), expected, atol=1e-6)


# --- the shipped model -----------------------------------------------------------------------


def _shipped_model(classes: int = 3) -> tuple[nn.Module, list[torch.Tensor]]:
    models = pytest.importorskip("harxai.models")
    if not hasattr(models, "build_model"):
        pytest.skip("harxai.models.build_model is not available yet")
    from harxai.config import FEATURE_GROUPS
    from harxai.models import presets
    from harxai.skeletons import get_layout

    layout = get_layout("ntu25")
    arch = presets.make_architecture(
        "tiny",
        attention="joint",
        dropout=0.0,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=layout.to_dict(),
        num_classes=classes,
    )
    model = models.build_model(arch).eval()
    inputs = [torch.randn(2, 6, 12, layout.num_joints, 2) for _ in FEATURE_GROUPS]
    return model, inputs


def _default_layers() -> list[str]:
    import yaml

    repo = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((repo / "rules" / "schemas" / "config.schema.yaml").read_text())
    return list(schema["properties"]["gradcam"]["properties"]["layers"]["default"])


def test_shipped_model_default_layers_match_captum() -> None:
    from captum.attr import LayerGradCam

    model, inputs = _shipped_model()
    target = [0, 2]
    for layer in _default_layers():
        result = GradCam(model, layer).explain(inputs, target)
        attr = LayerGradCam(model, resolve_layer(model, layer)).attribute(
            inputs=tuple(inputs), target=target, relu_attributions=True
        )
        expected = attr.detach()[:, 0].reshape(2, 2, *attr.shape[2:]).mean(dim=1).numpy()
        assert result.cam.shape == (2, attr.shape[2], 25), layer
        np.testing.assert_allclose(result.cam, expected, atol=1e-5, rtol=1e-4, err_msg=layer)
        assert np.isfinite(result.cam_negated).all()
        assert (result.cam_negated >= 0).all()
        shap_cam = gradcam(model, inputs, layer, target, variant="shapgcn")
        assert shap_cam.shape == result.cam.shape
        assert np.isfinite(shap_cam).all()


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))],
)
def test_gradcam_on_device_matches_cpu(device: str) -> None:
    model, inputs, target = make_model(), make_inputs(), torch.tensor([0, 3, 1])
    expected = GradCam(model, "branches.joint.conv1").explain(inputs, target)
    moved = model.to(device)
    got = GradCam(moved, "branches.joint.conv1").explain([x.to(device) for x in inputs], target.to(device))
    np.testing.assert_allclose(got.cam, expected.cam, atol=1e-5)
    np.testing.assert_allclose(got.cam_negated, expected.cam_negated, atol=1e-5)

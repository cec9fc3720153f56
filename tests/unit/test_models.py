"""The multi-branch GCN: shapes, layer names, edge importance, explainability habits, checkpoints."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from harxai.config import FEATURE_GROUPS
from harxai.models import (
    PRESETS,
    CheckpointError,
    build_model,
    edge_importance_parameters,
    load_model,
    make_architecture,
    read_checkpoint,
    save_checkpoint,
)
from harxai.models.attention import FrameAttention, JointAttention
from harxai.models.checkpoint import check_state_dict
from harxai.models.layers import GraphContraction
from harxai.skeletons import IN_MOTION_2022, NTU25, SkeletonLayout, distance_partitions

N, T, M = 3, 12, 2


def _arch(
    preset: str = "tiny", attention: str = "joint", layout: SkeletonLayout = NTU25, classes: int = 4
) -> dict[str, Any]:
    return make_architecture(
        preset,
        attention=attention,
        dropout=0.2,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=layout.to_dict(),
        num_classes=classes,
    )


def _inputs(v: int = 25, n: int = N, t: int = T, m: int = M) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, 6, t, v, m, generator=g) for _ in FEATURE_GROUPS]


def _documented_layers() -> list[str]:
    names = []
    for group in FEATURE_GROUPS:
        names.append(f"branches.{group}.init_bn")
        for i in (0, 1):
            base = f"branches.{group}.blocks.{i}"
            names += [f"{base}.gcn", f"{base}.gcn.graph", f"{base}.tcn", f"{base}.tcn.conv", f"{base}.att"]
    for i in (0, 1):
        names += [
            f"main.{i}.gcn",
            f"main.{i}.gcn.graph",
            f"main.{i}.tcn",
            f"main.{i}.tcn.conv",
            f"main.{i}.att",
        ]
    return names


def _expected_shapes(arch: dict[str, Any], t: int, v: int) -> dict[str, tuple[int, ...]]:
    """(N*M, C, T', V) of every documented layer, from the block specs."""
    out: dict[str, tuple[int, ...]] = {}
    branch_t = t
    for group in FEATURE_GROUPS:
        frames = t
        out[f"branches.{group}.init_bn"] = (N * M, 6, frames, v)
        for i, spec in enumerate(arch["branch_blocks"]):
            base = f"branches.{group}.blocks.{i}"
            c = spec["channels"]
            out[f"{base}.gcn"] = out[f"{base}.gcn.graph"] = (N * M, c, frames, v)
            frames = math.ceil(frames / spec["stride"])
            out[f"{base}.tcn"] = out[f"{base}.tcn.conv"] = out[f"{base}.att"] = (N * M, c, frames, v)
        branch_t = frames
    frames = branch_t
    for i, spec in enumerate(arch["main_blocks"]):
        c = spec["channels"]
        out[f"main.{i}.gcn"] = out[f"main.{i}.gcn.graph"] = (N * M, c, frames, v)
        frames = math.ceil(frames / spec["stride"])
        out[f"main.{i}.tcn"] = out[f"main.{i}.tcn.conv"] = out[f"main.{i}.att"] = (N * M, c, frames, v)
    return out


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("attention", ["joint", "frame", "none"])
def test_documented_layers_exist_with_shapes(preset: str, attention: str) -> None:
    arch = _arch(preset, attention)
    model = build_model(arch).eval()
    modules = dict(model.named_modules())
    expected = _expected_shapes(arch, T, 25)
    missing = [name for name in [*_documented_layers(), "classifier"] if name not in modules]
    assert not missing
    seen: dict[str, tuple[int, ...]] = {}
    handles = [
        modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape))
        )
        for name in expected
    ]
    try:
        with torch.no_grad():
            logits = model(*_inputs())
    finally:
        for h in handles:
            h.remove()
    assert logits.shape == (N, 4)
    assert seen == expected
    if attention == "none":
        assert isinstance(modules["main.1.att"], nn.Identity)


def test_presets_match_the_issue() -> None:
    paper, tiny = PRESETS["paper"], PRESETS["tiny"]
    assert [b.channels for b in paper.branch_blocks] == [128, 128]
    assert [b.channels for b in paper.main_blocks] == [128, 48]
    for preset in (paper, tiny):
        assert len(preset.branch_blocks) == 2
        assert len(preset.main_blocks) == 2
        assert [b.partitions for b in preset.branch_blocks] == [2, 2]
        assert [b.partitions for b in preset.main_blocks] == [3, 3]


def test_edge_importance_present_and_trainable() -> None:
    arch = _arch()
    model = build_model(arch)
    edges = edge_importance_parameters(model)
    graphs = [name for name, m in model.named_modules() if isinstance(m, GraphContraction)]
    assert len(edges) == len(graphs) == 4 * 2 + 2
    params = dict(model.named_parameters())
    for name, e in edges.items():
        assert name.endswith("edge_importance")
        assert params[name] is e
        block = arch["main_blocks" if name.startswith("main") else "branch_blocks"][int(name.split(".")[-4])]
        assert e.shape == (block["partitions"], 25, 25)
        assert e.requires_grad
        assert torch.equal(e.detach(), torch.ones_like(e))
    model.train()
    logits = model(*_inputs())
    nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    for name, e in edges.items():
        assert e.grad is not None, name
        assert float(e.grad.abs().sum()) > 0, name


def test_graph_contraction_by_hand() -> None:
    adjacency = torch.from_numpy(distance_partitions(IN_MOTION_2022, 2))
    graph = GraphContraction(adjacency)
    with torch.no_grad():
        graph.edge_importance.uniform_(0.5, 1.5)
    k, v = adjacency.shape[:2]
    x = torch.randn(2, k * 3, 4, v)
    y = graph(x)
    xs = x.view(2, k, 3, 4, v).numpy()
    w = (adjacency * graph.edge_importance).detach().numpy()
    expected = np.zeros((2, 3, 4, v))
    for kk in range(k):
        expected += xs[:, kk] @ w[kk]
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_joint_attention_is_a_softmax_over_joints() -> None:
    att = JointAttention(25).eval()
    x = torch.randn(4, 8, 10, 25)
    w = att(x)
    assert w.shape == (4, 1, 1, 25)
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(4, 1, 1))
    z = x.mean(dim=(1, 2))  # mean over channel and frame, (N, V)
    h = torch.relu(att.bn(att.fc1(z[:, :, None, None])))
    expected = torch.softmax(att.fc2(h)[:, :, 0, 0], dim=1)
    torch.testing.assert_close(w[:, 0, 0, :], expected)


def test_frame_attention_pools_channel_and_joint() -> None:
    att = FrameAttention(8, 25, kernel=3)
    x = torch.randn(4, 8, 10, 25)
    with torch.no_grad():
        w = att(x)
    assert w.shape == (4, 1, 10, 1)
    pooled = torch.stack([x.mean(dim=(1, 3)), x.amax(dim=(1, 3))], dim=1)[..., None]  # (N, 2, T, 1)
    with torch.no_grad():
        expected = torch.sigmoid(att.conv(pooled))
    torch.testing.assert_close(w, expected)
    assert float(w.min()) > 0
    assert float(w.max()) < 1


def test_no_inplace_modules_and_no_module_called_twice() -> None:
    model = build_model(_arch(attention="frame")).train()
    calls: Counter[str] = Counter()
    handles = [
        m.register_forward_hook(lambda _m, _i, _o, name=name: calls.update([name]))
        for name, m in model.named_modules()
    ]
    try:
        out = model(*_inputs())
    finally:
        for h in handles:
            h.remove()
    assert max(calls.values()) == 1
    leaves = [name for name, m in model.named_modules() if not list(m.children())]
    assert set(leaves) <= set(calls)  # every leaf module takes part in the forward pass
    inplace = [name for name, m in model.named_modules() if getattr(m, "inplace", False)]
    assert not inplace
    # every nonlinearity of the autograd graph comes from a module (no functional calls)
    nodes: Counter[str] = Counter()
    stack, seen = [out.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        nodes.update([type(fn).__name__])
        stack.extend(f for f, _ in fn.next_functions)
    modules = Counter(type(m).__name__ for name, m in model.named_modules() if name in calls)
    assert nodes["ReluBackward0"] == modules["ReLU"]
    assert nodes["SigmoidBackward0"] == modules["Sigmoid"]
    assert nodes["SoftmaxBackward0"] == modules["Softmax"]
    assert nodes["MaxPool2DWithIndicesBackward0"] == modules["MaxPool2d"]


def test_joint_attention_uses_module_softmax() -> None:
    model = build_model(_arch(attention="joint"))
    softmaxes = [m for m in model.modules() if isinstance(m, nn.Softmax)]
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(softmaxes) == 10
    assert len({id(m) for m in relus}) == len(relus)


def test_architecture_is_json_and_rebuilds() -> None:
    arch = _arch()
    again = json.loads(json.dumps(arch))
    a, b = build_model(arch).eval(), build_model(again).eval()
    assert list(a.state_dict()) == list(b.state_dict())
    b.load_state_dict(a.state_dict())
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(a(*x), b(*x))


def test_persons_taken_from_input() -> None:
    model = build_model(_arch()).eval()
    with torch.no_grad():
        one = model(*_inputs(m=1))
        three = model(*_inputs(m=3))
    assert one.shape == three.shape == (N, 4)


def test_invalid_architecture_names_the_problem() -> None:
    arch = _arch()
    arch["main_blocks"] = arch["main_blocks"][:1]
    arch["typo"] = 1
    with pytest.raises(ValueError, match=r"unknown key 'typo'"):
        build_model(arch)
    with pytest.raises(ValueError, match="unknown model preset"):
        _arch(preset="huge")


def _allowed(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _allowed(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_allowed(v) for v in value)
    return value is None or isinstance(value, (torch.Tensor, str, int, float, bool))


def test_checkpoint_round_trip_identical_logits(tmp_path: Path) -> None:
    arch = _arch(attention="frame")
    model = build_model(arch)
    model.train()
    model(*_inputs())  # move the batch-norm statistics away from their initial values
    model.eval()
    path = save_checkpoint(tmp_path / "model.pt", model, arch, ["a", "b", "c", "d"], "multiclass")
    content = torch.load(path, map_location="cpu", weights_only=True)
    assert _allowed(content)
    assert content["architecture"] == arch
    assert content["layout"] == NTU25.to_dict()
    assert content["class_names"] == ["a", "b", "c", "d"]
    loaded = load_model(path)
    assert not loaded.training
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))
    assert not list(tmp_path.glob(".model.pt.*"))  # atomic write left no temp file


def test_checkpoint_for_other_class_count_names_keys(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "m.pt", build_model(_arch(classes=3)), _arch(classes=3), list("abc"), "multiclass"
    )
    declared = build_model(_arch(classes=4))
    with pytest.raises(CheckpointError) as err:
        check_state_dict(declared, read_checkpoint(path)["state_dict"], path)
    msg = str(err.value)
    assert str(path) in msg
    assert "classifier.fc.weight: checkpoint (3, 24) vs declared (4, 24)" in msg
    assert "classifier.fc.bias: checkpoint (3,) vs declared (4,)" in msg


def test_checkpoint_for_other_layout_names_keys(tmp_path: Path) -> None:
    other = _arch(layout=IN_MOTION_2022)
    path = save_checkpoint(tmp_path / "m.pt", build_model(other), other, list("abcd"), "multiclass")
    declared = build_model(_arch(layout=NTU25))
    with pytest.raises(CheckpointError) as err:
        check_state_dict(declared, read_checkpoint(path)["state_dict"], path)
    msg = str(err.value)
    assert "main.1.gcn.graph.edge_importance: checkpoint (3, 29, 29) vs declared (3, 25, 25)" in msg
    assert "branches.joint.blocks.0.att.attention.fc1.weight" in msg  # joint attention is V-sized


def test_checkpoint_for_same_size_other_layout_is_detected(tmp_path: Path) -> None:
    spec = NTU25.to_dict()
    spec["edges"] = [[i, i + 1] for i in range(24)]  # a chain with 25 joints
    spec["name"] = "chain25"
    chain = _arch(layout=SkeletonLayout.from_dict(spec))
    path = save_checkpoint(tmp_path / "m.pt", build_model(chain), chain, list("abcd"), "multiclass")
    with pytest.raises(CheckpointError, match=r"main\.0\.gcn\.graph\.adjacency: values differ"):
        check_state_dict(build_model(_arch()), read_checkpoint(path)["state_dict"], path)


def test_attention_mismatch_lists_missing_and_unexpected(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "m.pt",
        build_model(_arch(attention="none")),
        _arch(attention="none"),
        list("abcd"),
        "multiclass",
    )
    with pytest.raises(CheckpointError) as err:
        check_state_dict(build_model(_arch(attention="joint")), read_checkpoint(path)["state_dict"], path)
    assert "missing keys" in str(err.value)
    assert "main.1.att.bn.weight" in str(err.value)


def test_read_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "absent.pt")
    torch.save({"state_dict": {}}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing architecture"):
        read_checkpoint(tmp_path / "partial.pt")


def _isolate(model: nn.Module, joint: int) -> None:
    with torch.no_grad():
        for e in edge_importance_parameters(model).values():
            e[:, joint, :] = 0.0
            e[:, :, joint] = 0.0


@pytest.mark.parametrize("attention", ["none", "frame"])
def test_without_graph_residual_an_isolated_joint_no_longer_matters(attention: str) -> None:
    """Cutting joint v from every E removes its input from the output (default architecture)."""
    arch = _arch(attention=attention)
    assert arch["graph_residual"] is False
    model = build_model(arch).eval()
    _isolate(model, 7)
    x = _inputs()
    changed = [t.clone() for t in x]
    for t in changed:
        t[:, :, :, 7] += 5.0 * torch.randn_like(t[:, :, :, 7])
    with torch.no_grad():
        torch.testing.assert_close(model(*changed), model(*x), rtol=0, atol=0)
        other = [t.clone() for t in x]
        for t in other:
            t[:, :, :, 3] += 5.0
        assert (model(*other) - model(*x)).abs().max() > 1e-6


def test_with_graph_residual_an_isolated_joint_still_matters() -> None:
    """EfficientGCN's residual carries the joint's features around A * E."""
    arch = _arch(attention="none")
    arch["graph_residual"] = True
    model = build_model(arch).eval()
    assert "branches.joint.blocks.0.gcn.residual" in dict(model.named_modules())
    _isolate(model, 7)
    x = _inputs()
    changed = [t.clone() for t in x]
    for t in changed:
        t[:, :, :, 7] += 5.0
    with torch.no_grad():
        assert (model(*changed) - model(*x)).abs().max() > 1e-6

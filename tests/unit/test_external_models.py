"""External models: factory specs, layouts, field-format checkpoints, GradCAM, E, model.pt, layer checks."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from harxai.config import ConfigError, check_model_layers, resolve_dataset, resolve_model
from harxai.explain.cam import GradCam, gradcam, resolve_layer
from harxai.io import Array, write_hdf5
from harxai.models import CheckpointError, edge_importance_parameters, load_model
from harxai.models.external import (
    ExternalModel,
    ExternalModelError,
    build_external,
    external_spec,
    load_external_weights,
    load_factory,
    read_external_state_dict,
)
from harxai.models.training import load_from_checkpoint, read_features, train_from_features
from harxai.skeletons import SkeletonLayout

REPO = Path(__file__).resolve().parents[2]
MODEL_FILE = REPO / "tests" / "workflow" / "external_model.py"
CPU = torch.device("cpu")
SIZES = {"num_classes": 3, "num_joints": 6, "in_channels": 4}
SPEC_PARAMS: dict[str, Any] = {
    "factory": f"{MODEL_FILE}:build",
    "kwargs": {"width": 4},
    "auto_kwargs": {"num_class": "num_classes", "num_point": "num_joints", "in_channels": "in_channels"},
    "inputs": ["joint", "velocity"],
    "output": 0,
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**override: Any) -> ExternalModel:
    torch.manual_seed(0)
    return build_external(external_spec({**SPEC_PARAMS, **override}), SIZES)


def _inputs(n: int = 3, persons: int = 2, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 4, 10, 6, persons, generator=g) for _ in range(4)]


# --- factory specs, inputs, layouts, outputs -------------------------------------------------


def test_factory_from_file_and_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_factory(f"{MODEL_FILE}:build").__name__ == "build"
    assert load_factory("torch.nn:Identity") is nn.Identity
    (tmp_path / "user_pkg").mkdir()
    (tmp_path / "user_pkg" / "__init__.py").write_text(
        "from torch import nn\ndef make():\n    return nn.Linear(2, 2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(load_factory("user_pkg:make")(), nn.Linear)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    assert load_factory("m.py:f")() == 1  # relative to the working directory
    for bad, message in [
        ("missing.py:build", "does not exist"),
        ("m.py:nothing", "has no attribute 'nothing'"),
        ("no_such_pkg_xyz:build", "cannot import no_such_pkg_xyz"),
        ("build", "expected 'package.module:callable'"),
    ]:
        with pytest.raises(ExternalModelError, match=message):
            load_factory(bad)


def test_inputs_are_the_listed_groups_in_order() -> None:
    model = _model().eval()
    x = _inputs()
    logits = model(*x)
    direct = model.net(x[0], x[1])[0]
    torch.testing.assert_close(logits, direct)
    swapped = _model(inputs=["velocity", "joint"]).eval()
    swapped.load_state_dict(model.state_dict())
    torch.testing.assert_close(swapped(*x), model.net(x[1], x[0])[0])
    # the groups not listed do not change the output
    y = [x[0], x[1], torch.zeros_like(x[2]), torch.ones_like(x[3])]
    torch.testing.assert_close(model(*y), logits)


class PysklNet(nn.Module):
    """Takes (N, M, T, V, C) like pyskl; returns logits only."""

    def __init__(self, num_class: int, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 5, 1)
        self.fc = nn.Linear(5, num_class)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = x.shape
        y = torch.relu(self.conv(x.permute(0, 1, 4, 2, 3).reshape(n * m, c, t, v)))
        return self.fc(y.mean(dim=(2, 3)).view(n, m, -1).mean(1))


def build_pyskl(num_class: int = 3, in_channels: int = 4) -> nn.Module:
    return PysklNet(num_class, in_channels)


def test_nmtvc_layout_permutes_inside_the_graph() -> None:
    spec = external_spec({"factory": f"{__name__}:build_pyskl", "inputs": ["bone"], "layout": "NMTVC"})
    torch.manual_seed(0)
    model = build_external(spec, {}).eval()
    x = _inputs()
    expected = model.net(x[2].permute(0, 4, 2, 3, 1))
    torch.testing.assert_close(model(*x), expected)
    # gradients reach the (N, C, T, V, M) tensor that SHAP and GradCAM see
    leaf = x[2].clone().requires_grad_(True)
    model(x[0], x[1], leaf, x[3])[:, 0].sum().backward()
    assert leaf.grad is not None
    assert leaf.grad.shape == x[2].shape
    assert float(leaf.grad.abs().sum()) > 0
    # GradCAM on its conv: rows N*M, equals captum with the same person mean
    cam = gradcam(model, x, "conv", [0, 1, 2])
    assert cam.shape == (3, 10, 6)


def test_tuple_output_needs_output_index() -> None:
    model = _model(output=None).eval()
    with pytest.raises(ExternalModelError, match=r"set model\.output"):
        model(*_inputs())
    with pytest.raises(ExternalModelError, match=r"model\.output 5 but forward returned 2"):
        _model(output=5).eval()(*_inputs())
    identity = build_external(external_spec({"factory": "torch.nn:Identity"}), {})
    with pytest.raises(
        ExternalModelError, match=r"logits have shape \(3, 4, 10, 6, 2\), expected \(sample=3, class\)"
    ):
        identity(*_inputs())


def test_spec_errors_are_listed_together() -> None:
    with pytest.raises(ExternalModelError) as err:
        external_spec(
            {"factory": "x", "inputs": ["joint", "joint", "depth"], "layout": "NTCVM", "output": -1}
        )
    message = str(err.value)
    for part in ("factory 'x'", "inputs", "layout 'NTCVM'", "output -1"):
        assert part in message


# --- GradCAM on external models ---------------------------------------------------------------


class TokenNet(nn.Module):
    """Layers of every accepted output kind and a token sequence (refused)."""

    def __init__(self, num_class: int = 3, channels: int = 4, joints: int = 6) -> None:
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, (3, 1), padding=(1, 0))  # (N*M, C, T, V)
        self.person_pool = nn.Identity()  # (N, C, T, V) after the person mean
        self.joint_pool = nn.Conv1d(8 * joints, 8, 1)  # (N, C, T)
        self.tokens = nn.Identity()  # (T, N, C): a sequence-first token sequence
        self.act = nn.Tanh()
        self.fc = nn.Linear(8, num_class)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        y = torch.relu(self.stem(x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)))
        y = self.person_pool(y.view(n, m, -1, t, v).mean(1))
        z = self.act(self.joint_pool(y.permute(0, 1, 3, 2).reshape(n, -1, t)))
        z = self.tokens(z.permute(2, 0, 1))
        return self.fc(z.mean(0))


def build_tokens(num_class: int = 3) -> nn.Module:
    return TokenNet(num_class)


@pytest.mark.parametrize("layer", ["stem", "person_pool", "joint_pool", "act"])
def test_gradcam_equals_captum_on_external_layers(layer: str) -> None:
    from captum.attr import LayerGradCam

    torch.manual_seed(3)
    model = build_external(external_spec({"factory": f"{__name__}:build_tokens"}), {}).eval()
    x, target = _inputs(), [0, 2, 1]
    ours = GradCam(model, layer).explain(x, target).cam
    attr = LayerGradCam(model, resolve_layer(model, layer)).attribute(
        inputs=tuple(x), target=target, relu_attributions=True
    )
    a = attr.detach()[:, 0]
    if a.ndim == 2:  # (N, T): no joint axis, repeated over the joints
        expected = a[..., None].expand(-1, -1, 6)
    elif a.shape[0] == 6:  # rows sample*person: mean over persons
        expected = a.reshape(3, 2, *a.shape[1:]).mean(1)
    else:
        expected = a
    assert ours.shape == (3, 10, 6)
    assert float(np.abs(ours).max()) > 0
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-6, rtol=1e-5)


def test_gradcam_other_shapes_name_module_and_shape() -> None:
    model = build_external(external_spec({"factory": f"{__name__}:build_tokens"}), {}).eval()
    with pytest.raises(ValueError, match=r"layer 'tokens' output has shape \(10, 3, 8\)"):
        gradcam(model, _inputs(), "tokens", 0)
    with pytest.raises(ValueError, match=r"layer 'fc' output has shape \(3, 3\)"):
        gradcam(model, _inputs(), "fc", 0)
    with pytest.raises(ValueError, match="closest: joint_pool"):
        gradcam(model, _inputs(), "joint_pol", 0)
    # paths are the user's, not the wrapper's
    with pytest.raises(ValueError, match="not a named_modules"):
        gradcam(model, _inputs(), "net.stem", 0)


def test_gradcam_on_the_test_model_with_persons() -> None:
    from captum.attr import LayerGradCam

    model = _model().eval()
    x, target = _inputs(), [1, 0, 2]
    for layer in ("layers.0.gcn", "layers.1.tcn.2"):
        ours = gradcam(model, x, layer, target)
        attr = LayerGradCam(model, resolve_layer(model, layer)).attribute(
            inputs=tuple(x), target=target, relu_attributions=True
        )
        expected = attr.detach()[:, 0].reshape(3, 2, *attr.shape[2:]).mean(1).numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=1e-5)


# --- edge importance --------------------------------------------------------------------------


def test_edge_importance_found_by_name_or_listed() -> None:
    model = _model()
    found = edge_importance_parameters(model)
    assert list(found) == ["net.layers.0.gcn.edge_importance", "net.layers.1.gcn.edge_importance"]
    assert all(model.get_submodule(n.rpartition(".")[0]) is not None for n in found)
    listed = edge_importance_parameters(_model(edge_importance=["layers.1.gcn.edge_importance"]))
    assert list(listed) == ["net.layers.1.gcn.edge_importance"]
    with pytest.raises(ExternalModelError, match=r"\['layers.0.gcn.A'\] are not parameters"):
        edge_importance_parameters(_model(edge_importance=["layers.0.gcn.A"]))
    with pytest.raises(ExternalModelError, match="has shape"):
        edge_importance_parameters(_model(edge_importance=["layers.0.gcn.conv.weight"]))
    none = build_external(external_spec({"factory": f"{__name__}:build_tokens"}), {})
    assert edge_importance_parameters(none) == {}


class StgcnOriginal(nn.Module):
    """ST-GCN's own pattern: E in a top-level ParameterList, used in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones(1, 6, 6))])
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("nctvm,kvw->nctwm", x, self.edge_importance[0])
        return self.fc(y.mean(dim=(2, 3, 4)))


def build_stgcn_original() -> nn.Module:
    return StgcnOriginal()


def test_edge_importance_in_a_parameter_list_is_refused_clearly() -> None:
    model = build_external(external_spec({"factory": f"{__name__}:build_stgcn_original"}), {})
    with pytest.raises(ExternalModelError, match="ParameterList"):
        edge_importance_parameters(model)


# --- field-format checkpoints -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrap", "key", "prefixes"),
    [
        (lambda sd: sd, None, ["module."]),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}, None, ["module."]),
        (lambda sd: {"model": sd, "optimizer": {"lr": 0.1}}, None, ["module."]),
        (lambda sd: {"net": sd}, None, []),
        (lambda sd: {f"backbone.{k}": v for k, v in sd.items()}, None, ["module.", "backbone."]),
        (lambda sd: {"ckpt": {"weights": {f"module.backbone.{k}": v for k, v in sd.items()}}}, "ckpt/weights",
         ["module.", "backbone."]),
    ],
)  # fmt: skip
def test_field_checkpoints_load(tmp_path: Path, wrap: Any, key: str | None, prefixes: list[str]) -> None:
    source = _model()
    with torch.no_grad():
        for p in source.net.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "ckpt.pth"
    torch.save(wrap(source.net.state_dict()), path)
    state = read_external_state_dict(path, key, prefixes)
    target = _model()
    load_external_weights(target, state, path, prefixes)
    x = _inputs()
    torch.testing.assert_close(target.eval()(*x), source.eval()(*x))


def test_checkpoint_mismatches_in_one_error_naming_the_file(tmp_path: Path) -> None:
    state = _model().net.state_dict()
    del state["fc.bias"]
    state["extra.weight"] = torch.zeros(2)
    state["fc.weight"] = torch.zeros(5, 8)
    path = tmp_path / "bad.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    with pytest.raises(CheckpointError) as err:
        load_external_weights(_model(), read_external_state_dict(path), path)
    message = str(err.value)
    assert str(path) in message
    assert "missing keys (1):\n    fc.bias" in message
    assert "unexpected keys (1):\n    extra.weight" in message
    assert "fc.weight: checkpoint (5, 8) vs declared (3, 8)" in message


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("pickle code ran",))


def test_checkpoint_is_read_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Evil()}, path)
    with pytest.raises(ExternalModelError, match="not a weights-only loadable"):
        read_external_state_dict(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1), "meta": {"a": 1}}, other)
    with pytest.raises(ExternalModelError, match="checkpoint_key"):
        read_external_state_dict(other)
    with pytest.raises(ExternalModelError, match="does not exist"):
        read_external_state_dict(tmp_path / "none.pt")


# --- training, model.pt and load_model jobs ---------------------------------------------------

LAYOUT = SkeletonLayout.from_dict(
    {
        "joints": ["a", "b", "c", "d", "e", "f"],
        "edges": [[0, 1], [1, 2], [2, 3], [1, 4], [4, 5]],
        "center": 1,
        "trunk": ["b", "c"],
        "source": "test",
    },
    name="six",
)


def _features(path: Path, n: int = 18, classes: int = 3) -> Path:
    rng = np.random.default_rng(0)
    label = np.arange(n) % classes
    x = rng.normal(0, 1, (n, 4, 4, 10, 6, 2)).astype(np.float32)
    x[np.arange(n), :, 0, :, label, 0] += 2.0
    split = np.array(["train", "train", "val"] * (n // 3))
    write_hdf5(
        path,
        {
            "features": Array(x, ("sample", "group", "channel", "frame", "joint", "person")),
            "label": Array(label, ("sample",)),
            "recording_id": Array(np.array([f"r{i:02d}" for i in range(n)]), ("sample",)),
            "group": Array(np.array([""] * n), ("sample",)),
            "split": Array(split, ("sample",)),
        },
        config={},
        attrs={
            "layout": LAYOUT.to_dict(),
            "class_names": [f"c{k}" for k in range(classes)],
            "task": "multiclass",
            "groups": ["joint", "velocity", "bone", "acceleration"],
        },
    )
    return path


PARAMS: dict[str, Any] = {
    **SPEC_PARAMS,
    "name": "external",
    "checkpoint": None,
    "epochs": 2,
    "batch_size": 4,
    "learning_rate": 0.05,
    "weight_decay": 1e-4,
    "dropout": 0.2,
    "max_train_seconds": None,
    "threshold": 0.45,
    "strip_prefixes": ["module."],
    "checkpoint_key": None,
}


def test_train_writes_a_rebuildable_model_pt(tmp_path: Path) -> None:
    features = _features(tmp_path / "features.h5")
    out = tmp_path / "model.pt"
    train_from_features(features, out, tmp_path / "metrics.h5", PARAMS, seed=5, device=CPU, threads=1)
    content = torch.load(out, weights_only=True)
    spec = content["architecture"]["external"]
    assert spec["built_kwargs"] == {"width": 4, "num_class": 3, "num_point": 6, "in_channels": 4}
    model = load_model(out)
    assert isinstance(model, ExternalModel)
    assert not model.training
    fs = read_features(features)
    x = fs.tensors(np.arange(6), CPU)
    fresh = build_external(spec, {})
    fresh.load_state_dict(content["state_dict"])
    torch.testing.assert_close(model(*x), fresh.eval()(*x))
    # training changed the weights and is deterministic from the seed
    assert not torch.equal(content["state_dict"]["net.fc.weight"], _model().state_dict()["net.fc.weight"])
    again = tmp_path / "again.pt"
    train_from_features(features, again, tmp_path / "m2.h5", PARAMS, seed=5, device=CPU, threads=1)
    for k, v in torch.load(again, weights_only=True)["state_dict"].items():
        assert torch.equal(v, content["state_dict"][k]), k
    # GradCAM and E work on the reloaded model with the user's layer names
    assert gradcam(model, x, "layers.1.tcn", fs.label[:6]).shape == (6, 5, 6)
    assert len(edge_importance_parameters(model)) == 2


def test_load_model_job_reads_a_field_checkpoint(tmp_path: Path) -> None:
    features = _features(tmp_path / "features.h5")
    torch.manual_seed(11)
    source = _model()
    ckpt = tmp_path / "field.pth"
    torch.save({"epoch": 9, "model": {f"module.{k}": v for k, v in source.net.state_dict().items()}}, ckpt)
    params = {**PARAMS, "checkpoint": str(ckpt)}
    out = tmp_path / "model.pt"
    load_from_checkpoint(features, ckpt, out, tmp_path / "metrics.h5", params, seed=1, device=CPU)
    loaded = load_model(out)
    x = read_features(features).tensors(np.arange(4), CPU)
    torch.testing.assert_close(loaded(*x), source.eval()(*x))
    # wrong class count: named with the file and the kwargs to fix
    bad = {**params, "auto_kwargs": {"num_point": "num_joints", "in_channels": "in_channels"},
           "kwargs": {"width": 4, "num_class": 5}}  # fmt: skip
    with pytest.raises(ExternalModelError, match=r"gives 5 logits but .*features\.h5 has 3 classes"):
        load_from_checkpoint(features, ckpt, tmp_path / "x.pt", tmp_path / "x.h5", bad, seed=1, device=CPU)
    # no prefix stripping: every key is unexpected, in one error
    with pytest.raises(CheckpointError, match=r"(?s)field.pth: .*missing keys .*unexpected keys"):
        load_from_checkpoint(
            features,
            ckpt,
            tmp_path / "y.pt",
            tmp_path / "y.h5",
            {**params, "strip_prefixes": []},
            seed=1,
            device=CPU,
        )


def test_model_pt_names_a_missing_factory(tmp_path: Path) -> None:
    features = _features(tmp_path / "features.h5")
    copy_of = tmp_path / "user_model.py"
    copy_of.write_text(MODEL_FILE.read_text())
    out = tmp_path / "model.pt"
    params = {**PARAMS, "factory": f"{copy_of}:build"}
    train_from_features(features, out, tmp_path / "metrics.h5", params, seed=5, device=CPU, threads=1)
    copy_of.unlink()
    with pytest.raises(CheckpointError, match=r"model.pt: model.factory .*does not exist"):
        load_model(out)


# --- config: schema, overrides, planning-time layer checks ------------------------------------


def _config(**model: Any) -> dict[str, Any]:
    from snakemake.utils import validate

    config = {
        "datasets": {"a": {"kind": "synthetic_ntu", "path": "results/synthetic/a"}},
        "model": model,
        "gradcam": {"layers": ["layers.0.gcn", "layers.1.tcn"]},
        "evaluate": {
            "perturbation_layers": ["layers.1.tcn"],
            "figure_layers": ["layers.1.tcn"],
            "reference_layer": "layers.0.gcn",
        },
    }
    validate(config, str(REPO / "rules" / "schemas" / "config.schema.yaml"))
    return config


def _check(config: dict[str, Any]) -> None:
    datasets = {n: resolve_dataset(n, s) for n, s in config["datasets"].items()}
    models = {n: resolve_model(config["model"], s.get("model")) for n, s in config["datasets"].items()}
    check_model_layers(config, datasets, models)


def test_config_example_validates_and_resolves() -> None:
    config = _config(
        **copy.deepcopy(SPEC_PARAMS), checkpoint=None, layout="NCTVM", strip_prefixes=["module."]
    )
    resolved = resolve_model(config["model"], None)
    assert resolved["name"] == "external"
    assert "preset" not in resolved
    assert "attention" not in resolved
    _check(config)
    # a dataset override of a preset config switches that dataset to an external model
    preset = _config()
    preset["datasets"]["a"]["model"] = copy.deepcopy(SPEC_PARAMS)
    over = resolve_model(preset["model"], preset["datasets"]["a"]["model"])
    assert over["factory"] == SPEC_PARAMS["factory"]
    assert over["name"] == "external"
    plain = resolve_model(preset["model"], None)
    assert "factory" not in plain
    assert "strip_prefixes" not in plain
    assert plain["name"] == "tiny"


def test_docs_example_validates() -> None:
    text = (REPO / "docs" / "external-models.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    from snakemake.utils import validate

    validate(yaml.safe_load(block), str(REPO / "rules" / "schemas" / "config.schema.yaml"))


def test_unknown_and_duplicate_layers_are_refused_with_paths() -> None:
    config = _config(**copy.deepcopy(SPEC_PARAMS))
    config["gradcam"]["layers"] = ["layers.0.gcn", "layers.0.gcn", "layers.1.tcn", "layer.9"]
    config["evaluate"]["reference_layer"] = "layers.1.tcm"
    with pytest.raises(ConfigError) as err:
        _check(config)
    message = str(err.value)
    assert "gradcam.layers: duplicate layers ['layers.0.gcn']" in message
    assert "gradcam.layers: ['layer.9'] are not module paths of the model of dataset 'a'" in message
    assert "evaluate.reference_layer: ['layers.1.tcm']" in message
    assert "available module paths of" in message
    assert "\n    layers.1.tcn.0\n" in message


def test_preset_layers_are_checked_without_training() -> None:
    config = _config()
    with pytest.raises(ConfigError, match=r"\['layers.0.gcn', 'layers.1.tcn'\] are not module paths"):
        _check(config)
    config["gradcam"]["layers"] = ["main.1.att", "branches.joint.blocks.0.tcn.conv"]
    config["evaluate"] = {
        "perturbation_layers": ["main.1.att"],
        "figure_layers": [],
        "reference_layer": "main.1.att",
    }
    _check(config)
    config["gradcam"]["layers"] = ["main.1.att.multiply"]
    config["evaluate"] = {
        "perturbation_layers": [],
        "figure_layers": [],
        "reference_layer": "main.1.att.multiply",
    }
    _check(config)
    config["model"]["attention"] = "none"  # the preset built for the check follows the settings
    with pytest.raises(ConfigError, match=r"\['main.1.att.multiply'\] are not module paths"):
        _check(config)


def test_factory_errors_are_config_errors(tmp_path: Path) -> None:
    config = _config(factory=f"{tmp_path}/none.py:build")
    with pytest.raises(ConfigError, match=r"datasets.a: model: .*none.py.*does not exist"):
        _check(config)


class MatrixGcn(nn.Module):
    """A graph unit owning one (joint, joint) E, used row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.E = nn.Parameter(torch.rand(6, 6) + 0.5)
        self.conv = nn.Conv2d(8, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(torch.einsum("nctv,vw->nctw", x, self.E)))


class MatrixNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gcn = MatrixGcn()
        self.fc = nn.Linear(5, 3)

    def forward(self, joint: torch.Tensor, bone: torch.Tensor) -> torch.Tensor:
        x = torch.cat([joint, bone], 1)
        n, c, t, v, m = x.shape
        y = self.gcn(x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v))
        return self.fc(y.mean(dim=(2, 3)).view(n, m, -1).mean(1))


def build_matrix() -> nn.Module:
    return MatrixNet()


@pytest.mark.parametrize("which", ["stgcn", "matrix"])
@pytest.mark.parametrize("mode", ["isolate", "self_loop"])
def test_edge_perturbation_of_external_models_equals_edited_weights(which: str, mode: str) -> None:
    """Per-sample E perturbation (hooks on the owning units) equals a full pass with E edited by hand."""
    from harxai.evaluate.perturbation import (
        EdgePerturbation,
        PerturbationSpec,
        perturb_edge_importance,
        perturbed_probabilities,
    )

    torch.manual_seed(4)
    if which == "stgcn":
        model = _model().eval()
    else:
        spec = external_spec({"factory": f"{__name__}:build_matrix", "inputs": ["joint", "bone"],
                              "edge_importance": ["gcn.E"]})  # fmt: skip
        model = build_external(spec, {}).eval()
    params = edge_importance_parameters(model)
    with torch.no_grad():  # make E differ from its initial ones
        for p in params.values():
            p.mul_(torch.rand_like(p) + 0.5)
    originals = {name: p.detach().clone() for name, p in params.items()}
    x = np.stack([t.numpy() for t in _inputs(n=4)], axis=1)
    sets = [[0], [2, 5], [], [0]]
    pspec = PerturbationSpec(mode=mode)
    with EdgePerturbation(model, params, pspec) as perturbation:
        probs, _ = perturbed_probabilities(model, perturbation, x, sets, CPU)
    for i, joints in enumerate(sets):
        edited = copy.deepcopy(model)
        with torch.no_grad():
            for name, p in edge_importance_parameters(edited).items():
                p.copy_(perturb_edge_importance(params[name].detach(), joints, pspec))
            logits = edited(*torch.from_numpy(x[i : i + 1]).unbind(1))
        expected = torch.softmax(logits.double(), 1).numpy()[0]
        np.testing.assert_allclose(probs[i], expected, rtol=1e-5, atol=1e-6)
    baseline = torch.softmax(model(*torch.from_numpy(x).unbind(1)).double(), 1).detach().numpy()
    assert not np.allclose(probs[1], baseline[1])  # the perturbation changed something
    np.testing.assert_allclose(probs[2], baseline[2], rtol=1e-6)
    for name, p in params.items():  # weights restored
        assert torch.equal(p.detach(), originals[name])


def test_gradcam_layer_shapes_are_checked_at_planning() -> None:
    config = _config(**copy.deepcopy(SPEC_PARAMS))
    config["gradcam"]["layers"] = ["layers.0.gcn", "fc", "layers.1"]
    with pytest.raises(ConfigError) as err:
        _check(config)
    message = str(err.value)
    # synthetic_ntu: 4 classes, 25 joints, 2 persons; two samples go through on the meta device
    assert "gradcam.layers: layer 'fc' output has shape (2, 4); expected (sample*person=4" in message
    assert "layers.0.gcn" not in message
    assert "layers.1" not in message


def test_preset_gradcam_layer_shapes_are_checked_at_planning() -> None:
    config = _config()
    config["gradcam"]["layers"] = ["main.1.att", "classifier.fc"]
    config["evaluate"] = {"perturbation_layers": [], "figure_layers": [], "reference_layer": "main.1.att"}
    with pytest.raises(ConfigError, match=r"layer 'classifier.fc' output has shape \(2, 4\)"):
        _check(config)
    config["gradcam"]["layers"] = ["main.1.att", "branches.bone.init_bn", "main.0.tcn.conv"]
    _check(config)


def test_edge_importance_is_known_at_planning() -> None:
    from harxai.models.planning import planned_edge_importance

    config = _config(**copy.deepcopy(SPEC_PARAMS))
    dataset = resolve_dataset("a", config["datasets"]["a"])
    model = resolve_model(config["model"], None)
    assert planned_edge_importance(config, dataset, model) == [
        "net.layers.0.gcn.edge_importance",
        "net.layers.1.gcn.edge_importance",
    ]
    tokens = {"factory": f"{__name__}:build_tokens", "auto_kwargs": {"num_class": "num_classes"}}
    assert planned_edge_importance(config, dataset, tokens) == []
    preset = resolve_model(_config()["model"], None)
    # the preset: two blocks in each of the four input branches and two in the main branch
    assert len(planned_edge_importance(config, dataset, preset)) == 10

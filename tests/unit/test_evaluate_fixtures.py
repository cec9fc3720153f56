"""Hand-made evaluation inputs (features/windows/explain_set/shap/gradcam/metrics/model files).

Imported by the test_evaluate_*, test_plots and test_report modules; it holds no tests itself.
The files follow the contracts of notes/contracts.md on a 6-joint chain skeleton.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from harxai.evaluate.jobs import collect_scores
from harxai.evaluate.oracle import ORACLE_COLUMNS
from harxai.explain.baselines import motion_energy, random_map
from harxai.io import Array, write_hdf5
from harxai.io.contracts import BASELINES
from harxai.methods import BASELINE_METHODS
from harxai.models import build_model, make_architecture, save_checkpoint
from harxai.skeletons import SkeletonLayout

JOINTS = ("head", "neck", "chest", "pelvis", "knee", "foot")
LAYOUT = SkeletonLayout.from_dict(
    {
        "joints": list(JOINTS),
        "edges": [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]],
        "center": 2,
        "trunk": [1, 3],
    },
    name="chain6",
)
V = len(JOINTS)
LAYERS = (
    "main.1.tcn.conv",
    "main.1.att",
    "branches.joint.init_bn",
    "branches.velocity.init_bn",
    "branches.bone.init_bn",
    "branches.acceleration.init_bn",
)
FEATURE_DIMS = ("sample", "group", "channel", "frame", "joint", "person")


@dataclass(frozen=True)
class Inputs:
    """Paths of a hand-made dataset and model folder."""

    root: Path
    features: Path
    windows: Path
    explain_set: Path
    shap: Path
    gradcam: dict[str, Path]
    metrics: Path
    truth: Path
    labels: np.ndarray
    planted: dict[int, tuple[int, ...]]
    scores: Path
    baselines: Path


def _attrs(class_names: list[str], task: str, segment: str) -> dict[str, object]:
    return {
        "layout": LAYOUT.to_dict(),
        "class_names": class_names,
        "task": task,
        "segment": segment,
        "num_channels": 2,
    }


def make_inputs(
    root: Path,
    task: str = "multiclass",
    per_class: int = 4,
    frames: int = 8,
    seed: int = 0,
) -> Inputs:
    """Write a complete set of evaluation inputs under ``root``.

    Multi-class: 3 classes of fixed samples; binary: 2 classes of windows, 2 windows per
    recording. SHAP and GradCAM put the class's planted joints (class c: joints c and c+3)
    first, with noise; the negated GradCAM map is the reverse.
    """
    rng = np.random.default_rng(seed)
    binary = task == "binary"
    names = ["negative", "positive"] if binary else ["A001", "A002", "A003"]
    labels = np.repeat(np.arange(len(names)), per_class)
    n = len(labels)
    planted = {c: (c, c + 3) for c in range(len(names))}
    rec = np.array([f"rec{i // 2 if binary else i}" for i in range(n)])
    attrs = _attrs(names, task, "windows" if binary else "fixed")
    coords = rng.normal(size=(n, 2, frames, V, 1)).astype(np.float32)
    coords[:, 1, :, :, 0] += np.arange(V)[::-1]  # a vertical chain
    common = {
        "label": Array(labels, ("sample",)),
        "recording_id": Array(rec, ("sample",)),
        "window_start": Array(np.tile([0.0, 2.5], n // 2 + 1)[:n], ("sample",)),
    }
    windows = write_hdf5(
        root / "windows.h5",
        {"data": Array(coords, ("sample", "channel", "frame", "joint", "person")), **common},
        config={},
        attrs=attrs,
    )
    features = rng.normal(size=(n, 4, 2, frames, V, 1)).astype(np.float32)
    feats = write_hdf5(
        root / "features.h5", {"features": Array(features, FEATURE_DIMS), **common}, config={}, attrs=attrs
    )
    model_dir = root / "model"
    index = np.arange(n)
    explain = write_hdf5(
        model_dir / "explain_set.h5",
        {
            "sample_index": Array(index, ("sample",)),
            "inputs": Array(features, FEATURE_DIMS),
            "target": Array(labels, ("sample",)),
            "label": Array(labels, ("sample",)),
            "prediction": Array(labels, ("sample",)),
            "recording_id": Array(rec, ("sample",)),
            "group": Array(np.array([""] * n), ("sample",)),
            "window_start": common["window_start"],
        },
        config={},
    )
    signal = np.zeros((n, V))
    for i, c in enumerate(labels):
        signal[i, list(planted[int(c)])] = 1.0
    frame_signal = signal[:, None, :] + 0.1 * rng.normal(size=(n, frames, V))
    shap = write_hdf5(
        model_dir / "shap.h5",
        {
            "keypoint_frame": Array(frame_signal - 0.3, ("sample", "frame", "joint")),
            "keypoint_frame_abs": Array(np.abs(frame_signal - 0.3), ("sample", "frame", "joint")),
            "keypoint_importance": Array((frame_signal - 0.3).mean(axis=1), ("sample", "joint")),
            "keypoint_importance_abs": Array(np.abs(frame_signal - 0.3).mean(axis=1), ("sample", "joint")),
            "sample_index": Array(index, ("sample",)),
            "target": Array(labels, ("sample",)),
            "label": Array(labels, ("sample",)),
        },
        config={},
        attrs={"elapsed_s": 12.5, "chunk_elapsed_s": {"0_0": 3.0, "1_0": 4.0, "2_0": 5.5}, "device": "cpu"},
    )
    gradcam = {}
    for j, layer in enumerate(LAYERS):
        coarse = frames // 2 if layer.startswith("main") else frames
        cam = np.clip(signal[:, None, :] + 0.2 * rng.normal(size=(n, coarse, V)) * (j + 1), 0, None)
        gradcam[layer] = write_hdf5(
            model_dir / "gradcam" / f"{layer}.h5",
            {
                "cam": Array(cam, ("sample", "frame", "joint")),
                "cam_negated": Array(1.0 - np.clip(cam, 0, 1), ("sample", "frame", "joint")),
                "target": Array(labels, ("sample",)),
                "sample_index": Array(index, ("sample",)),
            },
            config={},
            attrs={
                "layer": layer,
                "variant": "standard",
                "elapsed_s": 0.5 + j,
                "forward_elapsed_s": 0.1,
                "device": "cpu",
            },
        )
    metrics = write_hdf5(
        model_dir / "metrics.h5",
        {"val_logits": Array(rng.normal(size=(n, len(names))), ("sample", "class"))},
        config={},
        attrs={"metrics": {"accuracy": 0.75, "per_class": {"A001": 1.0}, "confusion": [[1, 0], [0, 1]]}},
    )
    truth_dir = root / "raw"
    truth_dir.mkdir(parents=True, exist_ok=True)
    classes = [
        {"label": c, "name": names[c], "joints": [JOINTS[j] for j in js], "joint_indices": list(js)}
        for c, js in planted.items()
    ]
    (truth_dir / "ground_truth.json").write_text(json.dumps({"classes": classes}), encoding="utf-8")
    # baselines: motion energy of the joint group, seeded noise, and a noisy copy of the signal
    baseline_maps = np.stack(
        [
            motion_energy(features),
            random_map(features, seed),
            frame_signal + 0.5 * rng.normal(size=frame_signal.shape),
        ]
    )
    baselines = BASELINES.write(
        model_dir / "baselines.h5",
        {
            "method": np.array(list(BASELINE_METHODS)),
            "map": baseline_maps,
            "elapsed_s": np.array([0.01, 0.001, 0.2]),
            "target": labels,
            "label": labels,
            "sample_index": index,
            "recording_id": rec,
        },
        config={},
        attrs={"device": "cpu", "threads": 1},
    )
    scores = model_dir / "evaluate" / "scores.h5"
    collect_scores(
        explain_set_path=explain,
        features_path=feats,
        shap_path=shap,
        gradcam_paths=gradcam,
        baselines_path=baselines,
        output_path=scores,
    )
    return Inputs(
        root, feats, windows, explain, shap, gradcam, metrics, truth_dir, labels, planted, scores, baselines
    )


def tiny_architecture(num_classes: int = 3) -> dict[str, object]:
    """The tiny harxai preset for the chain layout: four groups of 2 channels, joint attention, no dropout."""
    return make_architecture(
        "tiny",
        attention="joint",
        dropout=0.0,
        in_channels=dict.fromkeys(("joint", "velocity", "bone", "acceleration"), 2),
        layout=LAYOUT.to_dict(),
        num_classes=num_classes,
    )


def tiny_model(num_classes: int = 3) -> nn.Module:
    """A freshly initialised :func:`tiny_architecture` network in eval mode."""
    return build_model(tiny_architecture(num_classes)).eval()


def tiny_checkpoint(path: Path, num_classes: int = 3, seed: int = 0) -> Path:
    """Save a freshly initialised tiny harxai model for the chain layout."""
    torch.manual_seed(seed)
    arch = tiny_architecture(num_classes)
    model = build_model(arch)
    with torch.no_grad():  # trained-looking E: not all ones, so self_loop steps are non-zero
        for name, p in model.named_parameters():
            if name.endswith("edge_importance"):
                p.uniform_(0.5, 1.5)
    model.eval()
    names = [f"A{c + 1:03d}" for c in range(num_classes)]
    return save_checkpoint(path, model, arch, names, "multiclass" if num_classes > 2 else "binary")


class GraphContraction(nn.Module):
    """``y[n, c, t, w] = sum_k sum_v x[n, c, t, v] A[k, v, w] E[k, v, w]``, E named edge_importance."""

    def __init__(self, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("adjacency", adjacency)
        self.edge_importance = nn.Parameter(torch.ones_like(adjacency))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nctv,kvw->nctw", x, self.adjacency * self.edge_importance)


class OneJointModel(nn.Module):
    """Two-class model whose output depends on one key point only.

    The joint group's first channel goes through one graph contraction (hop-0 identity and
    hop-1 chain neighbours); the logit of class 1 is the mean over frames of the result at
    ``key``, class 0 its negative. The data put the class signal (+-1) on ``key`` only, so
    a neighbour's small noise can never flip the sign.
    """

    def __init__(self, key: int) -> None:
        super().__init__()
        from harxai.skeletons import distance_partitions

        self.key = key
        self.graph = GraphContraction(torch.from_numpy(distance_partitions(LAYOUT, 2)))

    def forward(self, joint: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
        x = joint[:, :1, :, :, 0]  # (N, 1, T, V)
        score = self.graph(x)[:, 0, :, self.key].mean(dim=1)
        return torch.stack([-score, score], dim=1)


def one_joint_data(key: int, n: int = 20, frames: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (sample, group, channel, frame, joint, person) and labels for :class:`OneJointModel`."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    x = 0.05 * rng.normal(size=(n, 4, 2, frames, V, 1))
    x[:, 0, 0, :, key, 0] = np.where(labels == 1, 1.0, -1.0)[:, None]
    return x.astype(np.float32), labels


def write_oracle(path: Path, class_names: list[str], unverified: tuple[str, ...] = ()) -> Path:
    """An oracle table (harxai.evaluate.oracle.ORACLE_COLUMNS) verifying every class but ``unverified``."""
    rows = [
        {
            "class": name,
            "label": i,
            "planted": "",
            "n_samples": 4,
            "chance": 1.0 / len(class_names),
            "accuracy": 1.0,
            "accuracy_planted": 1.0 if name in unverified else 0.0,
            "accuracy_random_mean": 1.0,
            "accuracy_random_min": 1.0,
            "verified": name not in unverified,
            "reason": "isolating the planted joints leaves accuracy 1.00" if name in unverified else "",
        }
        for i, name in enumerate(class_names)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(ORACLE_COLUMNS)).to_csv(path, index=False)
    return path

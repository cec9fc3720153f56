"""Resolution of the validated config into explicit per-dataset settings.

The JSON schema (``rules/schemas/config.schema.yaml``) checks types and fills defaults;
this module resolves the values whose defaults depend on the dataset kind, so the
workflow (``rules/common.smk``) and the package agree on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Class names of the synthetic infant set (label 0, label 1); its ground truth uses them too.
SYNTHETIC_INFANT_CLASS_NAMES = ("negative", "positive")

KINDS = ("ntu", "keypoints_csv", "kinetics_json", "openpose_json", "synthetic_ntu", "synthetic_infant")
SYNTHETIC_KINDS = ("synthetic_ntu", "synthetic_infant")

DEFAULT_LAYOUT = {
    "ntu": "ntu25",
    "synthetic_ntu": "ntu25",
    "kinetics_json": "openpose18",
    "openpose_json": "openpose25",
    "keypoints_csv": "in-motion-2022",
    "synthetic_infant": "in-motion-2022",
}
DEFAULT_SEGMENT = {
    "ntu": "fixed",
    "synthetic_ntu": "fixed",
    "kinetics_json": "fixed",
    "openpose_json": "windows",
    "keypoints_csv": "windows",
    "synthetic_infant": "windows",
}
FEATURE_GROUPS = ("joint", "velocity", "bone", "acceleration")


class ConfigError(ValueError):
    """A config value is inconsistent beyond what the JSON schema can check."""


def resolve_dataset(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Fill the kind-dependent defaults of one dataset entry.

    Parameters
    ----------
    name
        Dataset name (the ``{dataset}`` wildcard).
    spec
        The validated ``datasets.<name>`` entry.

    Returns
    -------
    dict
        A JSON-serialisable copy with ``name``, ``layout``, ``segment``, ``split``,
        ``fps``, ``manifest``, ``ignore_list`` and ``on_bad_recording`` resolved
        (``ntu_denoise`` kept for NTU kinds only).
    """
    kind = spec["kind"]
    if kind not in KINDS:
        raise ConfigError(f"datasets.{name}.kind: unknown kind {kind!r}")
    out = {k: v for k, v in spec.items() if k != "model"}
    out["name"] = name
    out["layout"] = spec.get("layout") or DEFAULT_LAYOUT[kind]
    out["segment"] = spec.get("segment") or DEFAULT_SEGMENT[kind]
    path = Path(spec["path"])
    split = spec.get("split")
    if kind in ("ntu", "synthetic_ntu"):
        split = split or "xview"
        if split not in ("xview", "xsub"):
            raise ConfigError(f"datasets.{name}.split: kind {kind} supports xview or xsub, not {split!r}")
    elif split in ("xview", "xsub"):
        raise ConfigError(f"datasets.{name}.split: {split!r} applies to NTU kinds only")
    out["split"] = split
    if kind in ("ntu", "synthetic_ntu", "kinetics_json"):
        out["fps"] = spec.get("fps") or 30.0
    else:
        out["fps"] = spec.get("fps")
    manifest = spec.get("manifest")
    out["on_bad_recording"] = spec.get("on_bad_recording") or "skip"
    if kind not in ("ntu", "synthetic_ntu"):
        out.pop("ntu_denoise", None)
    if manifest is None and kind in ("keypoints_csv", "openpose_json", "synthetic_infant", "synthetic_ntu"):
        manifest = str(path / "manifest.csv")
    out["manifest"] = manifest
    if kind == "synthetic_infant" and not spec.get("class_names"):
        out["class_names"] = list(SYNTHETIC_INFANT_CLASS_NAMES)
    if kind not in SYNTHETIC_KINDS:
        out.pop("synthetic", None)
    return out


def resolve_model(defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge a dataset's model overrides onto the top-level model settings.

    The model name defaults to ``checkpoint`` when a checkpoint is given, else the preset.
    """
    merged = dict(defaults)
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    if not merged.get("name"):
        merged["name"] = "checkpoint" if merged.get("checkpoint") else merged["preset"]
    return merged


def check_layers(layers: list[str]) -> None:
    """Layer names become file names: reject empty or path-like names."""
    for layer in layers:
        if not layer or "/" in layer or layer != layer.strip():
            raise ConfigError(f"gradcam.layers: invalid layer name {layer!r}")
    dup = sorted({x for x in layers if layers.count(x) > 1})
    if dup:
        raise ConfigError(f"gradcam.layers: duplicate layers {dup}")

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

KINDS = ("ntu", "keypoints_csv", "kinetics_json", "synthetic_ntu", "synthetic_infant")
SYNTHETIC_KINDS = ("synthetic_ntu", "synthetic_infant")

DEFAULT_LAYOUT = {
    "ntu": "ntu25",
    "synthetic_ntu": "ntu25",
    "kinetics_json": "openpose18",
    "keypoints_csv": "in-motion-2022",
    "synthetic_infant": "in-motion-2022",
}
DEFAULT_SEGMENT = {
    "ntu": "fixed",
    "synthetic_ntu": "fixed",
    "kinetics_json": "fixed",
    "keypoints_csv": "windows",
    "synthetic_infant": "windows",
}
FEATURE_GROUPS = ("joint", "velocity", "bone", "acceleration")


# model: keys of an external (factory) model, and keys that apply to harxai's presets only.
EXTERNAL_KEYS = (
    "factory", "kwargs", "auto_kwargs", "inputs", "layout", "output",
    "edge_importance", "checkpoint_key", "strip_prefixes",
)  # fmt: skip
PRESET_ONLY_KEYS = ("preset", "attention", "graph_residual")
# Coordinate channels per kind (features have twice as many per group); planning-time placeholder.
_COORD_CHANNELS = {
    "ntu": 3,
    "synthetic_ntu": 3,
    "kinetics_json": 2,
    "keypoints_csv": 2,
    "synthetic_infant": 2,
}


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
        ``fps``, ``manifest`` and ``ignore_list`` resolved.
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
    if manifest is None and kind in ("keypoints_csv", "synthetic_infant", "synthetic_ntu"):
        manifest = str(path / "manifest.csv")
    out["manifest"] = manifest
    if kind == "synthetic_infant" and not spec.get("class_names"):
        out["class_names"] = list(SYNTHETIC_INFANT_CLASS_NAMES)
    if kind not in SYNTHETIC_KINDS:
        out.pop("synthetic", None)
    return out


def resolve_model(defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge a dataset's model overrides onto the top-level model settings.

    The model name defaults to ``external`` for a ``factory`` model, ``checkpoint`` when a
    (harxai) checkpoint is given, else the preset. An external model's settings drop the
    preset-only keys (``preset``, ``attention``, ``graph_residual``) so they do not rerun its jobs.
    """
    merged = dict(defaults)
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    if merged.get("factory"):
        for key in PRESET_ONLY_KEYS:
            merged.pop(key, None)
    else:
        for key in EXTERNAL_KEYS:
            merged.pop(key, None)
    if not merged.get("name"):
        if merged.get("factory"):
            merged["name"] = "external"
        else:
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


def _layer_keys(config: Mapping[str, Any]) -> dict[str, list[str]]:
    ev = config.get("evaluate", {})
    out = {"gradcam.layers": list(config.get("gradcam", {}).get("layers", []))}
    for key in ("perturbation_layers", "figure_layers"):
        if key in ev:
            out[f"evaluate.{key}"] = list(ev[key])
    if "reference_layer" in ev:
        out["evaluate.reference_layer"] = [ev["reference_layer"]]
    return out


def planning_sizes(config: Mapping[str, Any], dataset: Mapping[str, Any], num_joints: int) -> dict[str, int]:
    """Data sizes of a resolved dataset as far as they are known before any job (placeholders else).

    Used to build a model for its ``named_modules()`` paths only: ``in_channels`` from the
    kind's coordinate dimension, ``num_classes`` from ``classes`` or the synthetic settings
    (else 2), ``num_frames`` from the preprocessing settings.
    """
    pre = config.get("preprocess", {})
    if dataset.get("classes"):
        classes = len(dataset["classes"])
    elif dataset["kind"] == "synthetic_ntu":
        classes = int(dataset.get("synthetic", {}).get("num_classes", 4))
    else:
        classes = 2
    if dataset.get("segment") == "windows":
        frames = round(float(pre.get("window_seconds", 5.0)) * float(pre.get("target_fps", 30.0)))
    else:
        frames = int(pre.get("fixed_frames", 150))
    return {
        "in_channels": 2 * _COORD_CHANNELS.get(dataset["kind"], 3),
        "num_classes": max(classes, 2),
        "num_joints": int(num_joints),
        "num_persons": int(dataset.get("max_persons", 2)),
        "num_frames": max(int(frames), 1),
    }


def check_model_layers(
    config: Mapping[str, Any],
    datasets: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, Mapping[str, Any]],
) -> None:
    """Check every configured layer name against each dataset's model, before any job runs.

    The names of ``gradcam.layers``, ``evaluate.perturbation_layers``, ``evaluate.figure_layers``
    and ``evaluate.reference_layer`` must be ``named_modules()`` paths of the model of every
    dataset (for a preset, of the preset built for the dataset's layout; for an external model,
    of the network its factory returns, built on the meta device when it allows), and each list
    must name a layer once. The GradCAM layers' output shapes are checked with one forward pass
    on meta tensors (no computation) where the model allows it. One :class:`ConfigError` lists
    every problem with the available paths.

    Parameters
    ----------
    config
        The validated config.
    datasets
        Resolved datasets (:func:`resolve_dataset`) by name.
    models
        Resolved model settings (:func:`resolve_model`) by dataset name.
    """
    from .models.external import module_paths
    from .models.planning import planned_layer_shape_problems, planned_model

    keys = _layer_keys(config)
    problems = []
    for key, names in keys.items():
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            problems.append(f"{key}: duplicate layers {dup}")
    paths_by_model: dict[str, list[str]] = {}
    for name, dataset in datasets.items():
        model = models[name]
        try:
            built, sizes = planned_model(config, dataset, model)
        except ValueError as exc:
            raise ConfigError(f"datasets.{name}: model: {exc}") from exc
        paths = module_paths(built)
        known = set(paths)
        for key, names in keys.items():
            unknown = [x for x in dict.fromkeys(names) if x not in known]
            if unknown:
                problems.append(f"{key}: {unknown} are not module paths of the model of dataset {name!r}")
                paths_by_model[str(model.get("factory") or model.get("preset"))] = paths
        gradcam = [x for x in dict.fromkeys(keys["gradcam.layers"]) if x in known]
        problems += [
            f"gradcam.layers: {p} (model of dataset {name!r})"
            for p in planned_layer_shape_problems(built, sizes, gradcam)
        ]
    if problems:
        listing = "".join(
            f"\n  available module paths of {which}:\n    " + "\n    ".join(paths)
            for which, paths in paths_by_model.items()
        )
        raise ConfigError("; ".join(problems) + listing)

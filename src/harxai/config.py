"""Resolution of the validated config into explicit per-dataset settings.

The JSON schema (``rules/schemas/config.schema.yaml``) checks types and fills defaults;
this module resolves the values whose defaults depend on the dataset kind, so the
workflow (``rules/common.smk``) and the package agree on them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .skeletons import LayoutError, get_layout

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
    if kind in SYNTHETIC_KINDS:
        out["path"] = synthetic_folder(spec["path"])
    path = Path(out["path"])
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


# --- planning-time checks ----------------------------------------------------------------------

SYNTHETIC_MARKER = ".harxai-synthetic"
"""File harxai writes into every synthetic dataset folder it creates (the folder is its own)."""

NTU_ACTIONS = 120
"""NTU RGB+D action numbers run 1..120."""

MAX_SYNTHETIC_BYTES = 10 * 2**30
"""Largest estimated size of one generated synthetic dataset."""

MAX_SAMPLE_FRAMES = 20_000
"""Largest sample (window or fixed length) in frames at the target rate."""

# Mean bytes per frame of the generated raw files (measured on the default settings: NTU
# text with one or two bodies, infant CSV rows); the size estimate uses them.
_NTU_BYTES_PER_FRAME = 3400
_INFANT_BYTES_PER_FRAME = 620


def synthetic_folder(path: str) -> str:
    """The folder string a synthetic dataset is generated into.

    Normalised (``a/./b`` is ``a/b``) and relative to the working directory when inside it;
    a path that leaves the working directory (``../x``) becomes absolute. Rule
    ``generate_synthetic`` makes the relative ones, ``generate_synthetic_outside`` the
    absolute ones, and neither's log or benchmark path can leave ``results/``.
    """
    norm = os.path.normpath(path)
    if Path(norm).is_absolute():
        rel = os.path.relpath(norm)
        return norm if rel == ".." or rel.startswith(".." + os.sep) else rel
    if norm == ".." or norm.startswith(".." + os.sep):
        return os.path.normpath(Path.cwd() / norm)
    return norm


def is_harxai_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder harxai created (it holds the synthetic marker file)."""
    return (Path(path) / SYNTHETIC_MARKER).is_file()


def check_synthetic_folder(name: str, path: str | os.PathLike[str], results: str | os.PathLike[str]) -> None:
    """Refuse a synthetic dataset path that holds files harxai did not create.

    Snakemake deletes a ``directory()`` output before it reruns the job (``--forcerun``,
    changed settings), so a path outside ``results`` that exists without harxai's marker is
    refused before any job runs: harxai only ever writes (and replaces) folders it made.
    """
    p = Path(path)
    res = Path(results).resolve()
    if p.resolve() == res or p.resolve() in res.parents:
        raise ConfigError(
            f"datasets.{name}.path: {p} holds the results folder {results}/; a synthetic dataset "
            "needs a folder of its own (for example results/synthetic/<name>)"
        )
    if not p.exists() and not p.is_symlink():
        return
    if not p.is_dir():
        raise ConfigError(
            f"datasets.{name}.path: {p} exists and is not a folder; a synthetic dataset is generated "
            "into a new folder, choose a path that does not exist"
        )
    try:
        p.resolve().relative_to(res)
        return  # under results/: harxai's own output tree
    except ValueError:
        pass
    if not is_harxai_folder(p):
        raise ConfigError(
            f"datasets.{name}.path: {p} exists and was not created by harxai (no {SYNTHETIC_MARKER} "
            "marker file); harxai generates synthetic data only into folders it creates and never "
            "overwrites or deletes other folders: choose a path that does not exist, or one under results/"
        )


def known_class_count(dataset: Mapping[str, Any]) -> int | None:
    """Number of classes of a resolved dataset when the config alone fixes it, else None."""
    if dataset.get("classes"):
        return len(dataset["classes"])
    if dataset["kind"] == "synthetic_ntu":
        return int(dataset.get("synthetic", {}).get("num_classes", 4))
    if dataset["kind"] == "synthetic_infant":
        return 2
    if dataset.get("class_names"):
        return len(dataset["class_names"])
    return None


def _check_classes(name: str, d: Mapping[str, Any]) -> None:
    kind = d["kind"]
    classes = list(d.get("classes") or ())
    valid: range | None = None
    if kind == "ntu":
        valid = range(1, NTU_ACTIONS + 1)
    elif kind == "synthetic_ntu":
        valid = range(1, int(d.get("synthetic", {}).get("num_classes", 4)) + 1)
    elif kind == "synthetic_infant":
        valid = range(2)
    if valid is not None:
        outside = [c for c in classes if c not in valid]
        if outside:
            raise ConfigError(
                f"datasets.{name}.classes: {outside} out of range; kind {kind} has labels "
                f"{valid.start}..{valid.stop - 1}"
            )
    names = d.get("class_names")
    count = known_class_count(d)
    if names and kind != "keypoints_csv" and count is not None and len(names) != count:
        raise ConfigError(f"datasets.{name}.class_names: {len(names)} names for {count} classes")


def _check_explain_classes(explain: Mapping[str, Any], datasets: Mapping[str, Mapping[str, Any]]) -> None:
    classes = explain.get("classes")
    if not classes:
        return
    counts = {name: known_class_count(d) for name, d in datasets.items()}
    for name, n in counts.items():
        if n is not None and not any(c < n for c in classes):
            raise ConfigError(
                f"explain.classes: none of {list(classes)} is a class of dataset {name} "
                f"({n} classes, indices 0..{n - 1})"
            )
    known = [n for n in counts.values() if n is not None]
    if known and len(known) == len(counts):
        outside = [c for c in classes if c >= max(known)]
        if outside:
            raise ConfigError(
                f"explain.classes: {outside} out of range for every dataset (at most {max(known)} "
                f"classes, indices 0..{max(known) - 1})"
            )


def synthetic_size_estimate(params: Any) -> tuple[int, float]:
    """Recordings and estimated bytes of a synthetic dataset (a ``SyntheticParams``)."""
    # late: harxai.synthetic imports this module (cycle)
    from .synthetic.ntu import NTU_SECONDS, ntu_files_per_class

    fps = sum(params.fps_choices) / len(params.fps_choices)
    if params.kind == "synthetic_ntu":
        files = ntu_files_per_class(params) * params.num_classes
        return files, files * sum(NTU_SECONDS) / 2 * fps * _NTU_BYTES_PER_FRAME
    subjects = max(4, round(params.num_subjects * params.scale))  # as in synthetic.infant.infant_subjects
    recordings = subjects * params.recordings_per_subject
    seconds = sum(params.recording_seconds) / 2
    return recordings, recordings * seconds * fps * _INFANT_BYTES_PER_FRAME


def _check_synthetic(name: str, d: Mapping[str, Any], seed: int) -> None:
    # late: harxai.synthetic imports this module (cycle)
    from .synthetic import SyntheticParams, SyntheticParamsError, candidate_joints

    try:
        params = SyntheticParams.from_mapping(
            {"kind": d["kind"], "layout": d["layout"], **d["synthetic"]}, seed
        )
    except (SyntheticParamsError, TypeError, ValueError) as exc:
        raise ConfigError(f"datasets.{name}.{exc}") from None
    limbs = len(candidate_joints(get_layout(params.layout)))
    if params.planted_joints > limbs:
        raise ConfigError(
            f"datasets.{name}.synthetic.planted_joints: {params.planted_joints} exceeds the {limbs} "
            f"limb joints of layout {params.layout}"
        )
    recordings, size = synthetic_size_estimate(params)
    if size > MAX_SYNTHETIC_BYTES:
        raise ConfigError(
            f"datasets.{name}.synthetic: scale {params.scale:g} would generate {recordings} recordings, "
            f"about {size / 2**30:.1f} GiB; a synthetic dataset is capped at "
            f"{MAX_SYNTHETIC_BYTES / 2**30:.0f} GiB (lower scale, samples_per_class, num_subjects, "
            "recordings_per_subject, recording_seconds or fps_choices)"
        )


def _check_preprocess(preprocess: Mapping[str, Any], segments: set[str]) -> None:
    # late: harxai.preprocess imports this module through harxai.io.ingest (cycle)
    from .preprocess import PreprocessParams

    window = preprocess.get("median_window", 5)
    if window % 2 == 0:
        raise ConfigError(f"preprocess.median_window: must be an odd number of frames, got {window}")
    for segment in sorted(segments):
        try:
            params = PreprocessParams.from_dict(preprocess, segment)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        key = "window_seconds" if segment == "windows" else "fixed_frames"
        if params.sample_frames > MAX_SAMPLE_FRAMES:
            raise ConfigError(
                f"preprocess.{key}: samples of {params.sample_frames} frames (segment {segment}, "
                f"{params.target_fps:g} fps) exceed the limit of {MAX_SAMPLE_FRAMES} frames"
            )


def check_config(
    config: Mapping[str, Any],
    datasets: Mapping[str, Mapping[str, Any]],
    results: str | os.PathLike[str] = "results",
) -> None:
    """Every check the validated config allows before any job runs; raise :class:`ConfigError`.

    The JSON schema checks each key alone (types, ranges, seeds 0..2^63-1, person counts,
    synthetic scale); this checks what spans keys or needs harxai's code: odd median window and
    windows with a hop (for the segments in use), skeleton layouts, synthetic settings against
    their layout and the size cap, class lists against the kind's label range and the class
    names, ``explain.classes`` against the datasets' class counts, and synthetic dataset folders
    (see :func:`check_synthetic_folder`). Every message starts with the key.

    Parameters
    ----------
    config
        The validated config (defaults filled in).
    datasets
        The resolved datasets (:func:`resolve_dataset`) by name.
    results
        The results folder (relative to the working directory).
    """
    _check_preprocess(config.get("preprocess", {}), {d["segment"] for d in datasets.values()})
    user_layouts = config.get("layouts") or {}
    for lname in user_layouts:
        try:
            get_layout(lname, user_layouts)
        except LayoutError as exc:
            raise ConfigError(f"layouts.{lname}: {exc}") from None
    for name, d in datasets.items():
        try:
            get_layout(d["layout"], user_layouts)
        except LayoutError as exc:
            raise ConfigError(f"datasets.{name}.layout: {exc}") from None
        _check_classes(name, d)
        if d["kind"] in SYNTHETIC_KINDS:
            _check_synthetic(name, d, int(config.get("seed", 1234)))
            check_synthetic_folder(name, d["path"], results)
    folders: dict[str, str] = {}
    for name, d in datasets.items():
        if d["kind"] in SYNTHETIC_KINDS:
            other = folders.setdefault(str(Path(d["path"]).resolve()), name)
            if other != name:
                raise ConfigError(
                    f"datasets.{name}.path: {d['path']} is also the folder of synthetic dataset {other}; "
                    "each synthetic dataset needs its own folder"
                )
    _check_explain_classes(config.get("explain", {}), datasets)


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
    # late (both): harxai.models imports this module (cycle), and torch would slow every import of the config
    from .models.external import module_paths  # late: see above
    from .models.planning import planned_layer_shape_problems, planned_model  # late: see above

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

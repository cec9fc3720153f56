"""Data contracts: one definition per HDF5 intermediate the workflow writes.

Each :class:`FileContract` names a file's datasets (dims from the one dimension vocabulary,
stored dtype, whether required, whether NaN carries meaning) and its required root
attributes. Every writer calls :meth:`FileContract.write` and every reader
:meth:`FileContract.read`; dims tuples are spelled here and nowhere else.

Finiteness: every float dataset is checked on write (after the cast to its stored dtype, so a
float64 value that overflows float32 is caught) and on read; only the datasets declared with
``nan_allowed`` may hold NaN (never inf). A violation raises :class:`HDF5ContractError`
naming the file and the dataset; a failed write leaves nothing behind.

``python -m harxai.io.contracts [PATH]`` writes the generated ``docs/data-contracts.md``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .hdf5 import Array, HDF5Content, HDF5ContractError, dataset_names, open_hdf5, read_hdf5, write_hdf5

PathLike = str | os.PathLike[str]

PROVENANCE_ATTRS = (
    "harxai_version",
    "created",
    "seed",
    "config",
    "inputs",
    "numpy_version",
    "torch_version",
    "h5py_version",
    "shap_version",
    "scipy_version",
)
"""Root attributes of every file (:func:`harxai.io.hdf5.provenance_attrs`)."""

SAMPLE = ("sample",)
FEATURES = ("sample", "group", "channel", "frame", "joint", "person")
"""Model inputs and SHAP values: feature group x channel x frame x joint x person per sample."""
WINDOW = ("sample", "channel", "frame", "joint", "person")
KEYPOINT_FRAME = ("sample", "frame", "joint")
KEYPOINT = ("sample", "joint")
CONFIDENCE = ("sample", "frame", "joint", "person")

DATASET_ATTRS = ("dataset", "kind", "layout", "class_names", "task", "num_channels")
"""Dataset-level attributes set by ingest and carried by every later per-dataset file."""


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a file.

    Parameters
    ----------
    name
        Path inside the file (``/`` for groups).
    dims
        One name per axis, from the dimension vocabulary.
    dtype
        Stored type: ``float32``, ``float64``, ``int64``, ``int8`` or ``str``.
    doc
        One line for the generated documentation.
    required
        Writers must write it; readers refuse a file without it.
    nan_allowed
        NaN carries meaning here (the reason is in ``doc``); inf never passes.
    units
        Stored as the ``units`` attribute.
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    doc: str
    required: bool = True
    nan_allowed: bool = False
    units: str | None = None

    @property
    def is_float(self) -> bool:
        """Whether the finiteness check applies."""
        return self.dtype.startswith("float")


def _check_finite(path: PathLike, spec: DatasetSpec, data: np.ndarray) -> None:
    if data.dtype.kind != "f":
        return
    bad = np.isinf(data) if spec.nan_allowed else ~np.isfinite(data)
    if bad.any():
        what = "inf" if spec.nan_allowed else "NaN or inf"
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise HDF5ContractError(
            f"{path}: dataset {spec.name!r} holds {int(bad.sum())} {what} value(s) "
            f"(first at {first}); the data contract allows none"
        )


def _stored(spec: DatasetSpec, data: Any) -> np.ndarray:
    arr = np.asarray(data)
    if spec.is_float and arr.dtype.kind in "fiu":
        with np.errstate(over="ignore", invalid="ignore"):
            return arr.astype(spec.dtype)
    return arr


@dataclass(frozen=True)
class FileContract:
    """The datasets and required attributes of one intermediate file."""

    name: str
    path: str
    rule: str
    doc: str
    datasets: tuple[DatasetSpec, ...]
    attrs: tuple[str, ...] = ()

    def spec(self, name: str) -> DatasetSpec:
        """The spec of dataset ``name``."""
        for s in self.datasets:
            if s.name == name:
                return s
        raise HDF5ContractError(f"{self.name} contract: no dataset {name!r}")

    def dims(self, name: str) -> tuple[str, ...]:
        """Dims of dataset ``name``."""
        return self.spec(name).dims

    def names(self, dims: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """Dataset names, optionally only those with ``dims``."""
        return tuple(s.name for s in self.datasets if dims is None or s.dims == dims)

    def write(
        self,
        path: PathLike,
        arrays: Mapping[str, Any],
        *,
        config: Mapping[str, Any],
        inputs: Iterable[PathLike] = (),
        seed: int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Path:
        """Check ``arrays`` and ``attrs`` against the contract and write ``path`` atomically.

        Raises
        ------
        HDF5ContractError
            Naming the file and the dataset: an undeclared or missing dataset, a missing
            required attribute, or a non-finite value where the contract allows none.
            Nothing is written then.
        """
        unknown = sorted(set(arrays) - set(self.names()))
        if unknown:
            raise HDF5ContractError(f"{path}: datasets {unknown} are not in the {self.name} contract")
        missing = [s.name for s in self.datasets if s.required and s.name not in arrays]
        if missing:
            raise HDF5ContractError(
                f"{path}: required datasets {missing} of the {self.name} contract missing"
            )
        lacking = [a for a in self.attrs if a not in (attrs or {})]
        if lacking:
            raise HDF5ContractError(
                f"{path}: required attributes {lacking} of the {self.name} contract missing"
            )
        out: dict[str, Array] = {}
        for name, data in arrays.items():
            spec = self.spec(name)
            stored = _stored(spec, data)
            _check_finite(path, spec, stored)
            out[name] = Array(stored, dims=spec.dims, units=spec.units, keep_dtype=spec.dtype == "float64")
        return write_hdf5(path, out, config=config, inputs=inputs, seed=seed, attrs=attrs)

    def read(self, path: PathLike, load: Iterable[str] | None = None) -> HDF5Content:
        """Read ``path``: the datasets loaded must exist, every declared dataset present must
        have its contract's dims, and the float datasets loaded must be finite (attributes are
        checked on write; a reader names the file when one it needs is missing).

        Parameters
        ----------
        load
            Datasets to load (default: all); the others are checked for dims only.
        """
        present = _dataset_names(path)
        wanted = (
            [s.name for s in self.datasets if s.required or s.name in present] if load is None else list(load)
        )
        for name in wanted:
            self.spec(name)
        # the declared datasets present but not loaded: dims checked without reading their values
        _check_dims(
            path, {s.name: s.dims for s in self.datasets if s.name in present and s.name not in wanted}
        )
        content = read_hdf5(path, expected={n: self.dims(n) for n in wanted}, load=wanted)
        for name in wanted:
            if name in content.arrays:
                _check_finite(path, self.spec(name), content.arrays[name])
        return content

    def check_rows(self, path: PathLike, name: str, rows: np.ndarray) -> np.ndarray:
        """Finiteness check of rows read lazily from dataset ``name``; returns ``rows``."""
        _check_finite(path, self.spec(name), rows)
        return rows


def _dataset_names(path: PathLike) -> set[str]:
    with open_hdf5(path) as fh:
        return set(dataset_names(fh))


def _check_dims(path: PathLike, expected: Mapping[str, tuple[str, ...]]) -> None:
    """The ``dims`` attribute of each dataset in ``expected`` (values stay on disk)."""
    if not expected:
        return
    with open_hdf5(path) as fh:
        for name, dims in expected.items():
            raw = fh[name].attrs.get("dims", "")
            got = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            if got != ",".join(dims):
                raise HDF5ContractError(
                    f"{path}: dataset {name!r} has dims '{got}', expected '{','.join(dims)}'"
                )


def _d(name: str, dims: tuple[str, ...], dtype: str, doc: str, **kw: Any) -> DatasetSpec:
    return DatasetSpec(name, dims, dtype, doc, **kw)


_PER_SAMPLE = (
    _d("label", SAMPLE, "int64", "class index"),
    _d("recording_id", SAMPLE, "str", "recording the sample comes from"),
    _d("group", SAMPLE, "str", "subject or group of the recording (split unit)"),
    _d("split", SAMPLE, "str", "`train` or `val`"),
    _d("interpolated", SAMPLE, "int64", "frames filled by interpolation in the recording", required=False),
)
_WINDOW_ROWS = (
    *_PER_SAMPLE,
    _d("source_fps", SAMPLE, "float32", "frame rate of the recording", units="Hz", required=False),
    _d("window_start", SAMPLE, "float32", "window start in the recording", units="s"),
    _d("padded", SAMPLE, "int8", "1 where the window was padded"),
    _d("valid_frames", SAMPLE, "int64", "frames of the window that hold data"),
    _d("recording_index", SAMPLE, "int64", "row of the recording in sequences.h5"),
    _d(
        "confidence",
        CONFIDENCE,
        "float32",
        "detector confidence per key point (readers that provide it)",
        required=False,
    ),
)

SEQUENCES = FileContract(
    name="sequences",
    path="results/{dataset}/sequences.h5",
    rule="ingest_dataset",
    doc="Ragged recordings concatenated along frame.",
    datasets=(
        _d("coords", ("frame", "channel", "joint", "person"), "float32", "key-point coordinates"),
        _d("timestamps", ("frame",), "float64", "time from the recording's start", units="s"),
        _d("offsets", SAMPLE, "int64", "first frame of each recording"),
        _d("lengths", SAMPLE, "int64", "frames of each recording"),
        *_PER_SAMPLE,
        _d("fps", SAMPLE, "float32", "frame rate of the recording", units="Hz"),
        _d("source_file", SAMPLE, "str", "raw file (or folder) the recording was read from", required=False),
        _d(
            "confidence",
            ("frame", "joint", "person"),
            "float32",
            "detector confidence per key point (readers that provide it)",
            required=False,
        ),
    ),
    attrs=DATASET_ATTRS,
)

WINDOWS = FileContract(
    name="windows",
    path="results/{dataset}/windows.h5",
    rule="preprocess_sequences",
    doc="Normalised fixed-length samples cut from the recordings.",
    datasets=(_d("data", WINDOW, "float32", "normalised coordinates"), *_WINDOW_ROWS),
    attrs=(*DATASET_ATTRS, "fps", "segment", "centre_on"),
)

FEATURE_SET = FileContract(
    name="features",
    path="results/{dataset}/features.h5",
    rule="compute_features",
    doc="Model inputs: joint, velocity, bone and acceleration groups of each sample.",
    datasets=(
        _d("features", FEATURES, "float32", "feature groups (attribute `groups` names them)"),
        *_WINDOW_ROWS,
    ),
    attrs=(*DATASET_ATTRS, "fps", "segment", "centre_on", "groups", "channel_names"),
)

_HISTORY = ("train_loss", "train_accuracy", "val_loss", "val_score", "lr", "seconds")
METRICS = FileContract(
    name="metrics",
    path="results/{dataset}/{model}/metrics.h5",
    rule="train_model, load_model",
    doc="Validation predictions and metrics of the trained or loaded model.",
    datasets=(
        _d("val_logits", ("sample", "class"), "float32", "logits of the validation samples"),
        _d("val_label", SAMPLE, "int64", "class index"),
        _d("val_recording_id", SAMPLE, "str", "recording of the sample"),
        _d("val_index", SAMPLE, "int64", "row in features.h5"),
        _d("recordings/id", ("recording",), "str", "binary tasks: recording", required=False),
        _d(
            "recordings/probability",
            ("recording",),
            "float32",
            "binary tasks: median P(positive) over the recording's windows",
            required=False,
        ),
        _d("recordings/label", ("recording",), "int64", "binary tasks: class index", required=False),
        _d("recordings/windows", ("recording",), "int64", "binary tasks: windows", required=False),
        *(
            _d(
                f"history/{h}",
                ("step",),
                "float32",
                "training: per epoch" + ("; NaN where the score is undefined" if h == "val_score" else ""),
                required=False,
                nan_allowed=h == "val_score",
            )
            for h in _HISTORY
        ),
    ),
    attrs=("metrics", "task", "class_names"),
)

EXPLAIN_SET = FileContract(
    name="explain_set",
    path="results/{dataset}/{model}/explain_set.h5",
    rule="select_explain_set",
    doc="The validation samples every explainer explains, with their targets.",
    datasets=(
        _d("inputs", FEATURES, "float32", "rows of features.h5"),
        _d("sample_index", SAMPLE, "int64", "row in features.h5"),
        _d("target", SAMPLE, "int64", "class explained"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("prediction", SAMPLE, "int64", "predicted class"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
        _d("group", SAMPLE, "str", "subject or group"),
        _d("window_start", SAMPLE, "float32", "window start in the recording", units="s"),
    ),
    attrs=("target_kind",),
)


@dataclass(frozen=True)
class ExplainSet:
    """Datasets of ``explain_set.h5`` the explain and evaluate jobs use (``inputs`` only when loaded)."""

    inputs: np.ndarray | None
    target: np.ndarray
    label: np.ndarray
    sample_index: np.ndarray
    recording_id: np.ndarray
    attrs: dict[str, Any]


def read_explain_set(path: PathLike, with_inputs: bool = True) -> ExplainSet:
    """Typed read of ``explain_set.h5`` (:data:`EXPLAIN_SET`)."""
    names = ["target", "label", "sample_index", "recording_id"] + (["inputs"] if with_inputs else [])
    c = EXPLAIN_SET.read(path, load=names)
    return ExplainSet(
        inputs=c["inputs"].astype(np.float32) if with_inputs else None,
        target=c["target"].astype(np.int64),
        label=c["label"].astype(np.int64),
        sample_index=c["sample_index"].astype(np.int64),
        recording_id=c["recording_id"],
        attrs=c.attrs,
    )


BACKGROUND = FileContract(
    name="background",
    path="results/{dataset}/{model}/background.h5",
    rule="select_background",
    doc="SHAP background rows drawn from the training split, in background chunks.",
    datasets=(
        _d("background", ("background", *FEATURES[1:]), "float32", "rows of features.h5"),
        _d("background_index", ("background",), "int64", "row in features.h5"),
        _d("background_label", ("background",), "int64", "class index"),
        _d("chunk", ("background",), "int64", "background chunk of the row"),
    ),
    attrs=("num_chunks", "chunk_sizes"),
)

SHAP_CHUNK = FileContract(
    name="shap_chunk",
    path="results/{dataset}/{model}/shap/chunk_{chunk}_part_{part}.h5",
    rule="shap_chunk",
    doc="SHAP values of one sample part against one background chunk (temporary).",
    datasets=(
        _d("values", FEATURES, "float32", "SHAP values"),
        _d("sample_index", SAMPLE, "int64", "position in the explain set"),
        _d("expected_value", SAMPLE, "float32", "mean target logit over the background chunk"),
        _d("output", SAMPLE, "float32", "target logit f(x)"),
        _d("target", SAMPLE, "int64", "class explained"),
    ),
    attrs=(
        "chunk",
        "part",
        "parts",
        "background_size",
        "elapsed_s",
        "completeness_error",
        "backend",
        "device",
    ),
)

SHAP_REDUCTIONS = (
    _d("keypoint_frame", KEYPOINT_FRAME, "float32", "signed sum over group, channel, person"),
    _d("keypoint_frame_abs", KEYPOINT_FRAME, "float32", "sum of |values| over group, channel, person"),
    _d("keypoint_importance", KEYPOINT, "float32", "keypoint_frame averaged over frame"),
    _d("keypoint_importance_abs", KEYPOINT, "float32", "keypoint_frame_abs averaged over frame"),
    _d("group_importance", ("sample", "group"), "float32", "signed sum over channel, frame, joint, person"),
    _d("group_importance_abs", ("sample", "group"), "float32", "sum of |values| over the same axes"),
    _d("frame_importance", ("sample", "frame"), "float32", "signed sum over group, channel, joint, person"),
)

SHAP = FileContract(
    name="shap",
    path="results/{dataset}/{model}/shap.h5",
    rule="merge_shap",
    doc="SHAP values against the whole background (weighted mean of the chunk files) and reductions.",
    datasets=(
        _d("values", FEATURES, "float32", "SHAP values"),
        _d("expected_value", SAMPLE, "float32", "mean target logit over the background"),
        _d("output", SAMPLE, "float32", "target logit f(x)"),
        _d("target", SAMPLE, "int64", "class explained"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("sample_index", SAMPLE, "int64", "row in features.h5"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
        *SHAP_REDUCTIONS,
    ),
    attrs=(
        "backend",
        "background_size",
        "num_chunks",
        "parts",
        "elapsed_s",
        "completeness_error",
        "completeness_error_chunks",
        "chunk_elapsed_s",
        "device",
    ),
)

GRADCAM = FileContract(
    name="gradcam",
    path="results/{dataset}/{model}/gradcam/{layer}.h5",
    rule="gradcam_layer",
    doc=(
        "Positive and negated GradCAM maps of one layer at its own frame resolution (with "
        "`gradcam.layers_per_job: all`, rule `gradcam_layers` writes the same file for every layer in one job)."
    ),
    datasets=(
        _d("cam", KEYPOINT_FRAME, "float32", "GradCAM map (frame axis of the layer)"),
        _d("cam_negated", KEYPOINT_FRAME, "float32", "map of the negated gradient (counterfactual)"),
        _d("target", SAMPLE, "int64", "class explained"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("sample_index", SAMPLE, "int64", "row in features.h5"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
    ),
    attrs=("layer", "variant", "elapsed_s", "forward_elapsed_s", "frames", "device", "threads", "batch_size"),
)


BASELINES = FileContract(
    name="baselines",
    path="results/{dataset}/{model}/baselines.h5",
    rule="explain_baselines",
    doc=(
        "Maps of the trivial baselines (`motion_energy`, `random`, `input_x_gradient`) on the "
        "explain set, at the input's frames."
    ),
    datasets=(
        _d("method", ("method",), "str", "baseline name (`harxai.methods.BASELINE_METHODS`)"),
        _d("map", ("method", *KEYPOINT_FRAME), "float32", "map of each baseline, higher is more important"),
        _d("elapsed_s", ("method",), "float64", "seconds to compute each map", units="s"),
        _d("target", SAMPLE, "int64", "class explained"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("sample_index", SAMPLE, "int64", "row in features.h5"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
    ),
    attrs=("device", "threads"),
)


def _curve_datasets(prefix: tuple[str, ...]) -> tuple[DatasetSpec, ...]:
    return (
        _d("k", ("step",), "int64", "key points perturbed"),
        _d(
            "metric",
            (*prefix, "step", "item"),
            "float32",
            "score of each panel; NaN where the panel's metric is undefined for its samples",
            nan_allowed=True,
        ),
        _d("panel", ("item",), "str", "panel name"),
        _d("metric_name", ("item",), "str", "metric of the panel"),
        _d("probability", (*prefix, "step", "sample", "class"), "float32", "class probabilities"),
        _d("perturbed", (*prefix, "step", "sample", "joint"), "int8", "1 where the key point is perturbed"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
    )


_CURVE_ATTRS = ("method", "selection", "elapsed_s", "forward_groups")
PERTURBATION = FileContract(
    name="perturbation",
    path="results/{dataset}/{model}/evaluate/perturbation/{method}_{selection}.h5",
    rule="perturb_edges",
    doc="Perturbation curve of one method's most or least important key points.",
    datasets=_curve_datasets(()),
    attrs=_CURVE_ATTRS,
)

PERTURBATION_RANDOM = FileContract(
    name="perturbation_random",
    path="results/{dataset}/{model}/evaluate/perturbation/random.h5",
    rule="perturb_random",
    doc="Random-key-point control curves, one per seeded draw.",
    datasets=_curve_datasets(("draw",)),
    attrs=_CURVE_ATTRS,
)

SCORES = FileContract(
    name="scores",
    path="results/{dataset}/{model}/evaluate/scores.h5",
    rule="collect_scores",
    doc=(
        "Every method's key-point scores, aligned on the explain set's samples: what rankings, "
        "perturbation and ground truth read (methods in `harxai.methods`)."
    ),
    datasets=(
        _d(
            "method",
            ("method",),
            "str",
            "`shap`, `shap_abs` (SHAP by absolute values), `gradcam:<layer>`, the baselines",
        ),
        _d("importance", ("method", "sample", "joint"), "float64", "ranking score, higher is more important"),
        _d(
            "counter",
            ("method", "sample", "joint"),
            "float64",
            "score of the least-important selection (SHAP: -importance; GradCAM: negated map)",
        ),
        _d(
            "frame_map",
            ("method", "sample", "frame", "joint"),
            "float32",
            "per-frame map resampled to the input frames (SHAP before the frame mean; GradCAM "
            "maps of layers with a coarser frame axis repeated proportionally)",
        ),
        _d("sample_index", SAMPLE, "int64", "row in features.h5"),
        _d("target", SAMPLE, "int64", "class explained"),
        _d("label", SAMPLE, "int64", "class index"),
        _d("recording_id", SAMPLE, "str", "recording of the sample"),
    ),
    attrs=("layout", "class_names", "task"),
)


CONTRACTS: tuple[FileContract, ...] = (
    SEQUENCES,
    WINDOWS,
    FEATURE_SET,
    METRICS,
    EXPLAIN_SET,
    BACKGROUND,
    SHAP_CHUNK,
    SHAP,
    GRADCAM,
    BASELINES,
    SCORES,
    PERTURBATION,
    PERTURBATION_RANDOM,
)
"""Every HDF5 intermediate, in workflow order."""

_DOC_HEAD = """# Data contracts

<!-- generated by `python -m harxai.io.contracts`; edit src/harxai/io/contracts.py instead -->

Every HDF5 file the workflow writes has one contract in `harxai.io.contracts`: its datasets
(dims from the one vocabulary `sample, group, channel, frame, joint, person` plus a few
extra axis names, and stored dtype), which are optional, and its required root attributes.
Every job writes through `FileContract.write` and reads through `FileContract.read`, so:

- a dataset not in the contract, a missing required dataset or attribute, or wrong dims is
  refused, naming the file;
- every float dataset is checked for finiteness when written (after the cast to its stored
  dtype, so a value that overflows float32 is caught) and when read, so a corrupted but
  readable intermediate stops the next job with the file and dataset named. NaN passes only
  where the contract says it carries meaning (column "NaN");
- writes are atomic: a failed job leaves no file behind.

Every file also carries the provenance attributes {provenance}.
`sequences.h5`, `windows.h5` and `features.h5` carry the dataset attributes {dataset_attrs}; the
explain set and the background copy them from `features.h5`.
"""


def render_markdown() -> str:
    """The data-contracts document generated from :data:`CONTRACTS`."""
    lines = [
        _DOC_HEAD.format(
            provenance=", ".join(f"`{a}`" for a in PROVENANCE_ATTRS),
            dataset_attrs=", ".join(f"`{a}`" for a in DATASET_ATTRS),
        )
    ]
    for c in CONTRACTS:
        lines += [f"## `{c.path}`", "", f"{c.doc} Written by rule `{c.rule}`.", ""]
        lines += ["| dataset | dims | dtype | required | NaN | meaning |", "|---|---|---|---|---|---|"]
        for s in c.datasets:
            units = f" ({s.units})" if s.units else ""
            lines.append(
                f"| `{s.name}` | {', '.join(s.dims)} | {s.dtype} | {'yes' if s.required else 'no'} "
                f"| {'allowed' if s.nan_allowed else 'no'} | {s.doc}{units} |"
            )
        if c.attrs:
            lines += ["", "Required attributes: " + ", ".join(f"`{a}`" for a in c.attrs) + "."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the generated document to ``argv[0]`` (default ``docs/data-contracts.md``)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0].startswith("-"):  # an option is not a file name ("--help" was written once)
        print("usage: python -m harxai.io.contracts [FILE]  (default docs/data-contracts.md)")
        return 0 if args[0] in ("-h", "--help") else 2
    target = Path(args[0] if args else "docs/data-contracts.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_markdown(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

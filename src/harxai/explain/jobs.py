"""Job entry points of the explanation rules, one per rule and named after it: select_explain_set,
select_background, shap_chunk, merge_shap, gradcam_layer and gradcam_layers.

Each function reads its HDF5 inputs, moves the model and tensors to the requested device, times
its core computation in-process (``elapsed_s``; job wall time in the benchmark TSVs includes
imports) and writes one HDF5 file through its contract in :mod:`harxai.io.contracts`.

Model inputs are the feature groups of ``features`` (sample, group, channel, frame, joint,
person) split along ``group``: ``model(joint, velocity, bone, acceleration)``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import HDF5Content, HDF5ContractError
from ..io.contracts import (
    BACKGROUND,
    BASELINES,
    EXPLAIN_SET,
    GRADCAM,
    SHAP,
    SHAP_CHUNK,
    ExplainSet,
    read_explain_set,
)
from ..methods import BASELINE_METHODS
from ..models import load_model
from . import shap_values
from .baselines import baseline_methods
from .cam import GradCam
from .reduce import shap_reductions
from .sampling import (
    ExplainParams,
    choose_explain_rows,
    dataset_attrs,
    draw_background,
    read_feature_rows,
    read_sample_table,
    validation_predictions,
)
from .shap_api import completeness_error

log = logging.getLogger(__name__)

GRADCAM_BATCH = 64  # samples per GradCAM forward/backward pass
PathLike = str | os.PathLike[str]


def load_job_model(model_path: PathLike, device: torch.device | str) -> nn.Module:
    """Load ``model.pt`` (``harxai.models.load_model``) in eval mode on ``device``."""
    return load_model(model_path, torch.device(device)).eval()


def group_tensors(features: np.ndarray, device: torch.device | str) -> list[torch.Tensor]:
    """Split (sample, group, channel, frame, joint, person) features into one tensor per group.

    Returns
    -------
    list of torch.Tensor
        One contiguous float32 (sample, channel, frame, joint, person) tensor per group, on
        ``device``, in the group order of ``features`` (joint, velocity, bone, acceleration).
    """
    t = torch.as_tensor(np.ascontiguousarray(features, dtype=np.float32), device=torch.device(device))
    return [t[:, g].contiguous() for g in range(t.shape[1])]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, func: Callable[[], Any]) -> tuple[Any, float]:
    _synchronize(device)
    start = time.perf_counter()
    out = func()
    _synchronize(device)
    return out, time.perf_counter() - start


def _gradcam_batches(
    explainer: GradCam, inputs: np.ndarray, target: np.ndarray, device: torch.device, batch_size: int
) -> tuple[np.ndarray, np.ndarray, float]:
    cams, negated, elapsed = [], [], 0.0
    batches = range(0, len(inputs), batch_size)
    for i, start in enumerate(batches):
        x = group_tensors(inputs[start : start + batch_size], device)
        t = target[start : start + batch_size]
        result, seconds = _timed(device, partial(explainer.explain, x, t))
        elapsed += seconds
        cams.append(result.cam)
        negated.append(result.cam_negated)
        if (i + 1) % 10 == 0:
            log.info("GradCAM of %d / %d samples", min(start + batch_size, len(inputs)), len(inputs))
    return np.concatenate(cams), np.concatenate(negated), elapsed


def _forward_seconds(model: nn.Module, inputs: np.ndarray, device: torch.device, batch_size: int) -> float:
    """Seconds of one plain (no-grad) forward pass over ``inputs`` in batches of ``batch_size``."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            x = group_tensors(inputs[start : start + batch_size], device)
            total += _timed(device, partial(model, *x))[1]
    return total


def gradcam_layer(
    model_path: PathLike,
    explain_set_path: PathLike,
    output_path: PathLike,
    layer: str,
    variant: str,
    device: torch.device | str,
    threads: int,
    batch_size: int = GRADCAM_BATCH,
) -> None:
    """Write ``gradcam/{layer}.h5``: positive and negated GradCAM maps of one layer.

    Both maps come from one forward and one backward pass per batch (the negated map uses
    ``-dy/dA``). After an untimed warm-up on the first samples, ``forward_elapsed_s`` times one
    plain no-grad forward pass over the same batches and ``elapsed_s`` the GradCAM computation.

    Parameters
    ----------
    model_path
        ``model.pt`` (``harxai.models.load_model``).
    explain_set_path
        ``explain_set.h5`` (inputs, target, ...).
    output_path
        File to write. Datasets: ``cam``, ``cam_negated`` float32 (sample, frame, joint) at the
        layer's frame resolution, averaged over persons; ``target``, ``label``, ``sample_index``
        (rows of ``features.h5``) int64 (sample,); ``recording_id`` str (sample,). Attributes:
        ``layer``, ``variant``, ``elapsed_s``, ``forward_elapsed_s``, ``frames`` (T'), ``device``,
        ``threads``, ``batch_size``; provenance ``config`` = {layer, variant}.
    layer
        ``named_modules()`` path of the layer.
    variant
        ``standard`` or ``shapgcn`` (see :mod:`harxai.explain.cam`).
    device
        Torch device of the computation.
    threads
        ``torch.set_num_threads``.
    batch_size
        Samples per forward/backward pass.
    """
    gradcam_layers(model_path, explain_set_path, [output_path], [layer], variant, device, threads, batch_size)


def gradcam_layers(
    model_path: PathLike,
    explain_set_path: PathLike,
    output_paths: Sequence[PathLike],
    layers: Sequence[str],
    variant: str,
    device: torch.device | str,
    threads: int,
    batch_size: int = GRADCAM_BATCH,
) -> None:
    """Write ``gradcam/{layer}.h5`` of several layers in one process (rule gradcam_layers).

    The model is loaded and the explain set read once; then each layer is computed exactly as by
    :func:`gradcam_layer` (untimed warm-up, then the GradCAM batches) and written atomically
    through the GRADCAM contract before the next starts, so the files equal gradcam_layer's
    except the timing attributes (``elapsed_s``, ``forward_elapsed_s``) and the provenance
    attribute ``created``. The no-grad forward pass is timed once, after the first layer's
    warm-up, and ``forward_elapsed_s`` of every file holds that one figure.

    Parameters
    ----------
    output_paths
        One file per layer, in the order of ``layers`` (see :func:`gradcam_layer` for the content).
    layers
        ``named_modules()`` paths, distinct; all are checked against the model before any is computed.
    model_path, explain_set_path, variant, device, threads, batch_size
        As in :func:`gradcam_layer`.
    """
    if len(output_paths) != len(layers):
        raise ValueError(f"{len(layers)} GradCAM layers but {len(output_paths)} output files")
    repeated = sorted({x for x in layers if list(layers).count(x) > 1})
    if repeated:
        raise ValueError(f"GradCAM layers listed twice: {repeated}")
    torch.set_num_threads(threads)
    dev = torch.device(device)
    model = load_job_model(model_path, dev)
    es = read_explain_set(explain_set_path)
    inputs = _inputs_of(es, explain_set_path)
    explainers = [GradCam(model, layer, variant) for layer in layers]  # every layer resolves, or none runs
    sources = [str(model_path), str(explain_set_path)]
    forward_s: float | None = None
    for explainer, output_path in zip(explainers, output_paths, strict=True):
        warm = slice(0, min(2, len(inputs)))
        explainer.explain(group_tensors(inputs[warm], dev), es.target[warm])
        if forward_s is None:
            forward_s = _forward_seconds(model, inputs, dev, batch_size)
        _write_gradcam(explainer, es, inputs, dev, threads, batch_size, forward_s, output_path, sources)


def _write_gradcam(
    explainer: GradCam,
    es: ExplainSet,
    inputs: np.ndarray,
    dev: torch.device,
    threads: int,
    batch_size: int,
    forward_s: float,
    output_path: PathLike,
    sources: list[str],
) -> None:
    """GradCAM batches of one layer, written through the GRADCAM contract."""
    layer, variant = explainer.layer, explainer.variant
    cam, cam_negated, elapsed = _gradcam_batches(explainer, inputs, es.target, dev, batch_size)
    arrays = {
        "cam": cam,
        "cam_negated": cam_negated,
        "target": es.target,
        "label": es.label,
        "sample_index": es.sample_index,
        "recording_id": es.recording_id,
    }
    attrs = {
        "layer": layer,
        "variant": variant,
        "elapsed_s": elapsed,
        "forward_elapsed_s": forward_s,
        "frames": int(cam.shape[1]),
        "device": str(dev),
        "threads": int(threads),
        "batch_size": int(batch_size),
    }
    config = {"layer": layer, "variant": variant}
    GRADCAM.write(output_path, arrays, config=config, inputs=sources, attrs=attrs)
    log.info(
        "GradCAM %s (%s) of %d samples: %.3f s (forward %.3f s, ratio %.2f)",
        layer,
        variant,
        len(cam),
        elapsed,
        forward_s,
        elapsed / forward_s if forward_s > 0 else float("nan"),
    )


def explain_baselines(
    model_path: PathLike,
    explain_set_path: PathLike,
    output_path: PathLike,
    seed: int,
    device: torch.device | str,
    threads: int,
    batch_size: int = GRADCAM_BATCH,
) -> None:
    """Write ``baselines.h5``: the trivial baselines' maps of the explain set.

    ``motion_energy`` (each joint's input speed), ``random`` (seeded uniform noise) and
    ``input_x_gradient`` (captum) as (sample, frame, joint) maps at the input's frames
    (:mod:`harxai.explain.baselines`), with the seconds each took. The evaluation treats them
    as methods next to SHAP and GradCAM (:data:`harxai.io.contracts.BASELINES`).
    """
    torch.set_num_threads(threads)
    dev = torch.device(device)
    model = load_job_model(model_path, dev)
    es = read_explain_set(explain_set_path)
    inputs = _inputs_of(es, explain_set_path)
    maps, elapsed = [], []
    for name, method in baseline_methods(seed, batch_size).items():
        start = time.perf_counter()
        maps.append(np.asarray(method(model, inputs, es.target), dtype=np.float32))
        elapsed.append(time.perf_counter() - start)
        log.info("baseline %s of %d samples: %.3f s", name, len(inputs), elapsed[-1])
    arrays = {
        "method": np.array(list(BASELINE_METHODS)),
        "map": np.stack(maps),
        "elapsed_s": np.array(elapsed, dtype=np.float64),
        "target": es.target,
        "label": es.label,
        "sample_index": es.sample_index,
        "recording_id": es.recording_id,
    }
    BASELINES.write(
        output_path,
        arrays,
        config={"seed": int(seed)},
        inputs=[str(model_path), str(explain_set_path)],
        seed=int(seed),
        attrs={"device": str(dev), "threads": int(threads)},
    )


def _part_positions(samples: int, part: int, parts: int) -> np.ndarray:
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f"shap_chunk: part must be in 0..{parts - 1}, not {part}")
    return np.array_split(np.arange(samples, dtype=np.int64), parts)[part]


def _chunk_rows(background_path: PathLike, chunk: int) -> tuple[np.ndarray, int]:
    c = BACKGROUND.read(background_path, load=["background", "chunk"])
    num_chunks = int(c.attrs.get("num_chunks", int(c["chunk"].max()) + 1))
    if not 0 <= chunk < num_chunks:
        raise ValueError(f"{background_path}: chunk {chunk} outside 0..{num_chunks - 1}")
    return c["background"][c["chunk"] == chunk].astype(np.float32), num_chunks


def shap_chunk(
    model_path: PathLike,
    explain_set_path: PathLike,
    background_path: PathLike,
    output_path: PathLike,
    chunk: int,
    part: int,
    parts: int,
    backend: str,
    batch_size: int | str | None,
    device: torch.device | str,
    threads: int,
    completeness_tolerance: float | None = 1e-4,
) -> None:
    """Write one ``shap/chunk_{chunk}_part_{part}.h5``: SHAP of one sample part vs one background chunk.

    Parameters
    ----------
    model_path
        ``model.pt`` (``harxai.models.load_model``).
    explain_set_path
        ``explain_set.h5``; part ``part`` of ``parts`` of its samples (``numpy.array_split``
        order) is explained.
    background_path
        ``background.h5``; its rows with ``chunk == chunk`` are the background.
    output_path
        File to write. Datasets: ``values`` float32 (sample, group, channel, frame, joint,
        person); ``sample_index`` int64 (sample,) positions in the explain set;
        ``expected_value``, ``output`` (f(x), the target logit) float32 (sample,); ``target``
        int64 (sample,). Attributes: ``chunk``, ``part``, ``parts``, ``background_size`` (rows of
        this chunk), ``elapsed_s``, ``completeness_error``, ``backend``, ``device``. An empty part
        or chunk gives zero values and ``background_size`` 0 (the merge gives it no weight).
    chunk, part, parts
        Background chunk, sample part and number of parts.
    backend, batch_size, completeness_tolerance
        ``harxai.explain.shap_values`` arguments (an incomplete ``fast`` result fails the job);
        ``batch_size`` ``auto`` (or None) lets the engine choose (``auto_batch_size``).
    device, threads
        Torch device and ``torch.set_num_threads``.
    """
    torch.set_num_threads(threads)
    dev = torch.device(device)
    es = read_explain_set(explain_set_path)
    inputs = _inputs_of(es, explain_set_path)
    positions = _part_positions(len(inputs), part, parts)
    background, _ = _chunk_rows(background_path, chunk)
    x, target = inputs[positions], es.target[positions]
    values = np.zeros((len(positions), *inputs.shape[1:]), np.float32)
    expected = np.zeros(len(positions), np.float64)
    output = np.zeros(len(positions), np.float64)
    elapsed, error, size = 0.0, 0.0, len(background)
    if len(positions) and size:
        model = load_job_model(model_path, dev)
        result, elapsed = _timed(
            dev,
            lambda: shap_values(
                model,
                group_tensors(x, dev),
                group_tensors(background, dev),
                target,
                backend=backend,
                batch_size=None if batch_size in (None, "auto") else int(batch_size),
                completeness_tolerance=completeness_tolerance,
            ),
        )
        values = np.stack([np.asarray(v, np.float32) for v in result.values], axis=1)
        expected = np.asarray(result.expected_value, np.float64)
        output = np.asarray(result.output, np.float64)
        error = float(result.completeness_error)
    elif not size:
        log.warning(
            "%s: background chunk %d is empty; writing zero values with weight 0", background_path, chunk
        )
    arrays = {
        "values": values,
        "sample_index": positions,
        "expected_value": expected,
        "output": output,
        "target": target,
    }
    attrs = {
        "chunk": chunk,
        "part": part,
        "parts": parts,
        "background_size": size,
        "elapsed_s": elapsed,
        "completeness_error": error,
        "backend": backend,
        "device": str(dev),
    }
    config = {"chunk": chunk, "part": part, "parts": parts, "backend": backend, "batch_size": batch_size}
    sources = [str(model_path), str(explain_set_path), str(background_path)]
    SHAP_CHUNK.write(output_path, arrays, config=config, inputs=sources, attrs=attrs)
    log.info(
        "SHAP chunk %d part %d/%d: %d samples x %d background rows in %.2f s (completeness error %.2e)",
        chunk,
        part,
        parts,
        len(positions),
        size,
        elapsed,
        error,
    )


def _inputs_of(es: ExplainSet, path: PathLike) -> np.ndarray:
    if es.inputs is None:
        raise HDF5ContractError(f"{path}: explain set read without inputs")
    return es.inputs


@dataclass
class _MergeState:
    """Running sums of :func:`merge_shap` over the chunk files."""

    values: np.ndarray  # float64 (sample, group, channel, frame, joint, person), weighted sum
    expected: np.ndarray  # float64 (sample,), weighted sum
    output: np.ndarray  # float64 (sample,), NaN until seen
    coverage: dict[int, np.ndarray]  # chunk -> times each sample was explained
    sizes: dict[int, int]  # chunk -> background rows
    chunk_error: float = 0.0
    chunk_elapsed: dict[str, float] = field(default_factory=dict)  # "<chunk>_<part>" -> seconds
    devices: set[str] = field(default_factory=set)


def _read_chunk_file(path: PathLike) -> HDF5Content:
    return SHAP_CHUNK.read(path)


def _add_chunk_file(state: _MergeState, path: PathLike, es: ExplainSet) -> None:
    c = _read_chunk_file(path)
    chunk, size = int(c.attrs["chunk"]), int(c.attrs["background_size"])
    pos = c["sample_index"].astype(np.int64)
    n = len(es.target)
    if len(pos) and (pos.min() < 0 or pos.max() >= n):
        raise HDF5ContractError(f"{path}: sample_index outside the explain set's {n} samples")
    if c["values"].shape[1:] != state.values.shape[1:]:
        raise HDF5ContractError(
            f"{path}: values of shape {c['values'].shape}, expected (*, {state.values.shape[1:]})"
        )
    if not np.array_equal(c["target"], es.target[pos]):
        raise HDF5ContractError(f"{path}: targets differ from the explain set's")
    if state.sizes.setdefault(chunk, size) != size:
        raise HDF5ContractError(
            f"{path}: chunk {chunk} has {size} background rows, another part of it has {state.sizes[chunk]}"
        )
    np.add.at(state.coverage.setdefault(chunk, np.zeros(n, np.int64)), pos, 1)
    state.chunk_elapsed[f"{chunk}_{int(c.attrs['part'])}"] = float(c.attrs["elapsed_s"])
    state.devices.add(str(c.attrs.get("device", "")))
    state.chunk_error = max(state.chunk_error, float(c.attrs["completeness_error"]))
    if size == 0:
        return
    out = c["output"].astype(np.float64)
    seen = ~np.isnan(state.output[pos])
    if not np.allclose(state.output[pos][seen], out[seen], rtol=1e-4, atol=1e-4):
        raise HDF5ContractError(f"{path}: f(x) differs from the other chunk files' for the same samples")
    state.output[pos] = out
    state.values[pos] += size * c["values"].astype(np.float64)
    state.expected[pos] += size * c["expected_value"].astype(np.float64)


def _check_coverage(state: _MergeState, paths: Sequence[PathLike]) -> None:
    for chunk, counts in sorted(state.coverage.items()):
        missing, repeated = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
        if len(missing) or len(repeated):
            raise ValueError(
                f"merge_shap: background chunk {chunk} explains samples not exactly once "
                f"(missing {missing[:10].tolist()}, repeated {repeated[:10].tolist()}) "
                f"across {len(paths)} chunk files"
            )


def _single_attr(paths: Sequence[PathLike], key: str) -> Any:
    values = {SHAP_CHUNK.read(p, load=[]).attrs[key] for p in paths}
    if len(values) != 1:
        raise ValueError(f"merge_shap: chunk files disagree on {key}: {sorted(map(str, values))}")
    return values.pop()


def merge_shap(explain_set_path: PathLike, chunk_paths: Sequence[PathLike], output_path: PathLike) -> None:
    """Write ``shap.h5``: the background-size-weighted mean of the chunk files plus reductions.

    DeepSHAP values against a background are the mean of the values against each background
    row, so the mean over chunks weighted by their row counts equals the values against the
    whole background. Every sample must be explained exactly once per background chunk.

    Parameters
    ----------
    explain_set_path
        ``explain_set.h5`` (target, label, sample_index, recording_id are copied).
    chunk_paths
        Files of :func:`shap_chunk`, every (chunk, part).
    output_path
        File to write. Datasets: ``values`` float32 (sample, group, channel, frame, joint,
        person); ``expected_value``, ``output`` float32 (sample,); ``target``, ``label``,
        ``sample_index`` (rows of ``features.h5``) int64 and ``recording_id`` str (sample,);
        the reductions of :func:`harxai.explain.reduce.shap_reductions`. Attributes:
        ``backend``, ``background_size`` (total rows), ``num_chunks``, ``parts``, ``elapsed_s``
        (sum over chunk files), ``completeness_error`` (recomputed on the merged values:
        ``max |sum(values) - (output - expected_value)|`` relative to ``max |output -
        expected_value|``, the definition of ``ShapResult``), ``completeness_error_chunks``
        (max of the chunk files'), ``chunk_elapsed_s`` (JSON ``{"<chunk>_<part>": seconds}``;
        the chunk files are temporary) and ``device`` (the chunk jobs' devices).
    """
    if not chunk_paths:
        raise ValueError("merge_shap: no chunk files")
    es = read_explain_set(explain_set_path, with_inputs=False)
    backend, parts = _single_attr(chunk_paths, "backend"), int(_single_attr(chunk_paths, "parts"))
    shape = _read_chunk_file(chunk_paths[0])["values"].shape[1:]
    n = len(es.target)
    state = _MergeState(
        values=np.zeros((n, *shape), np.float64),
        expected=np.zeros(n, np.float64),
        output=np.full(n, np.nan),
        coverage={},
        sizes={},
    )
    for path in chunk_paths:
        _add_chunk_file(state, path, es)
    _check_coverage(state, chunk_paths)
    total = sum(state.sizes.values())
    if total == 0:
        raise ValueError("merge_shap: every background chunk is empty")
    values, expected = state.values / total, state.expected / total
    error = completeness_error([values], state.output, expected)
    arrays = {
        "values": values,
        "expected_value": expected,
        "output": state.output,
        "target": es.target,
        "label": es.label,
        "sample_index": es.sample_index,
        "recording_id": es.recording_id,
        **shap_reductions(values),
    }
    attrs = {
        "backend": str(backend),
        "background_size": total,
        "num_chunks": len(state.sizes),
        "parts": parts,
        "elapsed_s": sum(state.chunk_elapsed.values()),
        "completeness_error": error,
        "completeness_error_chunks": state.chunk_error,
        "chunk_elapsed_s": state.chunk_elapsed,
        "device": ",".join(sorted(state.devices)),
    }
    config = {"backend": str(backend), "num_chunks": len(state.sizes), "parts": parts}
    sources = [str(explain_set_path), *map(str, chunk_paths)]
    SHAP.write(output_path, arrays, config=config, inputs=sources, attrs=attrs)
    log.info(
        "merged %d chunk files: %d samples, background %d, completeness error %.2e (chunks' max %.2e)",
        len(chunk_paths),
        n,
        total,
        error,
        state.chunk_error,
    )


def select_explain_set(
    features_path: str | os.PathLike[str],
    metrics_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    params: Mapping[str, Any],
) -> None:
    """Write ``explain_set.h5``: the validation samples to explain and their targets.

    Parameters
    ----------
    features_path
        ``features.h5`` (rule compute_features).
    metrics_path
        ``metrics.h5`` of the trained model (val_logits, val_index).
    output_path
        ``explain_set.h5`` to write. Datasets: ``sample_index`` int64 (sample,) rows of
        ``features.h5``; ``inputs`` float32 (sample, group, channel, frame, joint, person);
        ``target``, ``label``, ``prediction`` int64 (sample,); ``recording_id``, ``group`` str
        (sample,); ``window_start`` float32 (sample,) seconds. Attributes: the dataset-level
        attributes of ``features.h5`` (dataset, layout, class_names, task, groups,
        channel_names, ...) and ``target_kind``; provenance ``config`` holds ``params``.
    params
        The ``explain`` config block (see :class:`ExplainParams`).
    """
    p = ExplainParams.from_dict(params)
    table = read_sample_table(features_path)
    rows = choose_explain_rows(
        table.label, table.split, table.recording_id, table.window_start, p, table.num_classes
    )
    if len(rows) == 0:
        raise ValueError(
            f"{features_path}: no validation sample matches explain classes={p.classes}, "
            f"recordings={p.recordings} ({int(np.sum(table.split == 'val'))} validation samples)"
        )
    prediction = validation_predictions(metrics_path, rows)
    label = table.label[rows]
    target = label if p.target == "label" else prediction
    inputs = read_feature_rows(features_path, rows)
    arrays = {
        "sample_index": rows,
        "inputs": inputs,
        "target": target.astype(np.int64),
        "label": label,
        "prediction": prediction,
        "recording_id": table.recording_id[rows],
        "group": table.group[rows],
        "window_start": table.window_start[rows],
    }
    attrs = {**dataset_attrs(table), "target_kind": p.target}
    EXPLAIN_SET.write(
        output_path, arrays, config=asdict(p), inputs=[str(features_path), str(metrics_path)], attrs=attrs
    )
    counts = np.bincount(label, minlength=table.num_classes)
    log.info(
        "explain set: %d samples (per class %s), target %s, %.1f MB of inputs",
        len(rows),
        counts.tolist(),
        p.target,
        inputs.nbytes / 1e6,
    )


def select_background(
    features_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    size: int,
    chunk_size: int,
    seed: int,
) -> None:
    """Write ``background.h5``: the SHAP background from the training split, in chunks.

    Parameters
    ----------
    features_path
        ``features.h5`` (rule compute_features).
    output_path
        ``background.h5`` to write. Datasets: ``background`` float32 (background, group, channel,
        frame, joint, person); ``background_index`` (rows of ``features.h5``),
        ``background_label`` and ``chunk`` int64 (background,), rows ordered by chunk.
        Attributes: the dataset-level attributes of ``features.h5`` plus ``num_chunks`` and
        ``chunk_sizes`` (JSON list); provenance ``config`` holds size, chunk_size and seed.
    size, chunk_size, seed
        Requested background size, rows per chunk (at most) and seed of the draw.
    """
    table = read_sample_table(features_path)
    rows, chunk = draw_background(table.split, table.label, table.num_classes, size, chunk_size, seed)
    num_chunks = math.ceil(size / chunk_size)
    arrays = {
        "background": read_feature_rows(features_path, rows),
        "background_index": rows,
        "background_label": table.label[rows],
        "chunk": chunk,
    }
    sizes = np.bincount(chunk, minlength=num_chunks).tolist()
    attrs = {**dataset_attrs(table), "num_chunks": num_chunks, "chunk_sizes": sizes}
    config = {"size": size, "chunk_size": chunk_size, "seed": seed}
    BACKGROUND.write(output_path, arrays, config=config, inputs=[str(features_path)], seed=seed, attrs=attrs)
    counts = np.bincount(table.label[rows], minlength=table.num_classes)
    log.info("background: %d samples (per class %s) in chunks of %s", len(rows), counts.tolist(), sizes)

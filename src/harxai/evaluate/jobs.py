"""Job entry points of the evaluate rules: one function per rule, named after it.

Each reads its inputs through :mod:`harxai.io.contracts`, calls the analysis of its module
(:mod:`.ranking`, :mod:`.perturbation`, :mod:`.curves`, :mod:`.correlation`,
:mod:`.ground_truth`, :mod:`.overlay`, :mod:`.runtime`) and writes its tables and figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import plots
from ..explain.baselines import MapMethod, map_methods
from ..explain.jobs import load_job_model
from ..io.contracts import BACKGROUND, BASELINES, EXPLAIN_SET, GRADCAM, SCORES, SHAP, read_explain_set
from ..methods import (
    BASELINE_METHODS,
    METHOD_INPUT_X_GRADIENT,
    METHOD_RANDOM,
    METHOD_SHAP,
    METHOD_SHAP_ABS,
    gradcam_method,
    method_label,
    method_layer,
    methods_of,
    shap_method,
)
from . import correlation, ground_truth, ranking, runtime
from .correlation import correlation_markdown
from .curves import curves_table, read_curves, summarize_curves, write_curves_csv
from .faithfulness import CurveSpec, EvaluationData, Imputation, Imputer, faithfulness_curves
from .ground_truth import (
    ground_truth_markdown,
    read_ground_truth_classes,
    score_temporal,
    truth_masks,
)
from .oracle import run_model_reliance_oracle, verified_truth
from .overlay import fixed_blocks, read_window_rows, window_blocks
from .perturbation import (
    DEFAULT_BATCH_SIZE,
    PerturbationSpec,
    evaluation_set,
    load_checkpoint,
    random_curves,
    selection_curve,
    write_curves,
)
from .robustness import RobustnessSpec, robustness_table, stratified_subset
from .runtime import hardware, runtime_markdown
from .sanity import FAIL_RHO, cascading_randomization, cascading_stages, sanity_summary
from .scoring import scoring_panels
from .sources import (
    SELECTIONS,
    PathLike,
    Scores,
    check_aligned,
    read_dataset_info,
    read_scores,
)
from .sources import collect_scores as collect_scores_arrays
from .tables import markdown_table, write_csv, write_markdown
from .verdict import (
    Estimate,
    estimates_from,
    faithfulness_estimates,
    ground_truth_estimates,
    verdict_table,
    write_verdict,
)

log = logging.getLogger(__name__)


def collect_scores(
    *,
    explain_set_path: PathLike,
    features_path: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    baselines_path: PathLike,
    output_path: PathLike,
) -> None:
    """Job of rule collect_scores: every method's aligned key-point scores in ``scores.h5``.

    The one place the evaluation reads SHAP, GradCAM and baseline files and checks that they
    cover the explain set's samples in order; rankings, perturbation, ground truth,
    faithfulness and the verdict read ``scores.h5``.
    """
    arrays, attrs = collect_scores_arrays(
        explain_set_path, features_path, shap_path, gradcam_paths, baselines_path
    )
    inputs = [explain_set_path, features_path, shap_path, *gradcam_paths.values(), baselines_path]
    SCORES.write(output_path, arrays, config={"layers": list(gradcam_paths)}, inputs=inputs, attrs=attrs)
    log.info("scores of %d methods on %d samples", len(arrays["method"]), len(arrays["sample_index"]))


def rank_keypoints(
    *,
    scores_path: PathLike,
    output_csv: PathLike,
    output_png: PathLike,
    shap_absolute: bool,
    figure_layers: Sequence[str],
) -> pd.DataFrame:
    """Job of rule rank_keypoints: rankings of SHAP, every GradCAM layer and the baselines, CSV and boxplots.

    Parameters
    ----------
    scores_path
        ``evaluate/scores.h5`` (rule collect_scores); every GradCAM layer is ranked in the CSV.
    output_csv, output_png
        The ranking table and the boxplot figure.
    shap_absolute
        Rank SHAP by absolute instead of signed sums.
    figure_layers
        GradCAM layers drawn next to SHAP in the figure (the baselines are drawn too).
    """
    scores = read_scores(scores_path)
    info = scores.info
    importance = {m: scores.of(m).importance for m in scores.methods if m != METHOD_SHAP_ABS}
    importance[METHOD_SHAP] = scores.of(shap_method(shap_absolute)).importance
    table = ranking.rank_keypoints(importance, scores.label, info.class_names, info.layout.joints)
    write_csv(table, output_csv)
    log.info(
        "ranked %d key points for %d methods on %d samples",
        info.layout.num_joints,
        len(importance),
        len(scores.label),
    )
    missing = [layer for layer in figure_layers if gradcam_method(layer) not in importance]
    if missing:
        layers = [method_layer(m) for m in importance if m != METHOD_SHAP]
        raise ValueError(f"evaluate.figure_layers: {missing} are not among the GradCAM layers {layers}")
    shown = {m: importance[m] for m in [*methods_of(figure_layers), *BASELINE_METHODS] if m in importance}
    plots.plot_rankings(
        shown,
        scores.label,
        info.class_names,
        info.layout.joints,
        output_png,
        shap_absolute=shap_absolute,
    )
    return table


def score_ground_truth(
    *,
    scores_path: PathLike,
    explain_set_path: PathLike,
    ground_truth_path: PathLike,
    oracle_csv: PathLike,
    output_csv: PathLike,
    output_time_csv: PathLike,
    output_md: PathLike,
    fps: float,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule score_ground_truth: every method against the planted joints, verified classes only.

    Classes the model-reliance oracle (``oracle.csv``) left unverified are not scored; the
    Markdown names them with their oracle numbers. ``output_csv`` scores the key-point rankings
    (:func:`harxai.evaluate.ground_truth.score_ground_truth`), ``output_time_csv`` the joint x
    frame maps against the temporal masks of the burst classes
    (:func:`harxai.evaluate.ground_truth.score_temporal`; ``fps`` is the preprocessing's rate).
    """
    scores = read_scores(scores_path)
    info = scores.info
    classes = read_ground_truth_classes(ground_truth_path, info.class_names, info.layout.num_joints)
    oracle_table = pd.read_csv(oracle_csv)
    verified = verified_truth({k: v.joints for k, v in classes.items()}, oracle_table)
    importance = {m: scores.of(m).importance for m in scores.methods}
    table = ground_truth.score_ground_truth(
        importance, scores.label, verified, info.class_names, info.layout.joints
    )
    start_s = EXPLAIN_SET.read(explain_set_path, load=["window_start", "sample_index"])
    check_aligned(
        scores.sample_index, start_s["sample_index"].astype(np.int64), "sample_index", explain_set_path
    )
    frames = scores.frame_map.shape[2]
    kept = {k: v for k, v in classes.items() if k in verified}
    masks = truth_masks(
        kept,
        scores.label,
        start_s["window_start"].astype(np.float64) * fps,
        frames,
        fps,
        info.layout.num_joints,
    )
    maps = {m: scores.of(m).frame_map for m in scores.methods}
    temporal = score_temporal(maps, scores.label, masks, kept, info.class_names, info.layout.joints)
    unverified = oracle_table[~oracle_table["verified"].astype(bool)]
    log.info(
        "ground truth: %d rows for %d methods; %d temporal rows; unverified classes: %s",
        len(table),
        len(importance),
        len(temporal),
        list(unverified["class"]) or "none",
    )
    write_csv(table, output_csv)
    write_csv(temporal, output_time_csv)
    note = ""
    if len(unverified):
        note = (
            "\n\nUnverified classes (left out: the model does not rely on their planted joints, "
            "see oracle.csv):\n\n" + markdown_table(unverified)
        )
    body = (
        ground_truth_markdown(table, title)
        if len(table)
        else f"# Ground truth{': ' + title if title else ''}\n\nNo class was verified by the oracle."
    )
    write_markdown(body + note, output_md)
    return table


def draw_skeletons(
    *,
    windows_path: PathLike,
    scores_path: PathLike,
    figure_layers: Sequence[str],
    output_png: PathLike,
    samples: int,
    columns: int,
    shap_absolute: bool,
) -> None:
    """Job of rule draw_skeletons: SHAP, GradCAM layers and the baselines on the skeleton of chosen samples.

    Parameters
    ----------
    windows_path
        windows.h5 (normalised coordinates; rows indexed by the scores' ``sample_index``).
    scores_path
        ``evaluate/scores.h5``: the per-frame maps of every method (``frame_map``).
    figure_layers
        The GradCAM layers to draw (``evaluate.figure_layers``), in order.
    samples
        Samples (fixed) or recordings (windows) to draw.
    columns
        Spans (fixed) or windows per sample or recording.
    shap_absolute
        Draw SHAP's absolute values (``shap_abs``) instead of its signed values.
    """
    info = read_dataset_info(windows_path)
    scores = read_scores(scores_path)
    data, starts = read_window_rows(windows_path, scores.sample_index)
    shown = {METHOD_SHAP: shap_method(shap_absolute)}  # label -> method of scores.h5
    shown.update({gradcam_method(x): gradcam_method(x) for x in figure_layers})
    shown.update({m: m for m in BASELINE_METHODS if m in scores.methods})
    maps = {method_label(label): scores.of(m).frame_map for label, m in shown.items()}
    if info.segment == "windows":
        blocks = window_blocks(
            data, maps, scores.label, scores.recording_id, starts, info.class_names, samples, columns
        )
    else:
        blocks = fixed_blocks(data, maps, scores.label, info.class_names, samples, columns)
    log.info("drawing %d blocks of %d methods", len(blocks), len(maps))
    signed = {method_label(METHOD_SHAP): not shap_absolute, method_label(METHOD_INPUT_X_GRADIENT): True}
    plots.plot_skeletons(blocks, info.layout, output_png, signed=signed)


def summarize_runtime(
    *, plan: Mapping[str, Mapping[str, Any]], output_csv: PathLike, output_md: PathLike
) -> pd.DataFrame:
    """Job of rule summarize_runtime: results/runtime.csv and runtime.md."""
    table = runtime.summarize_runtime(plan)
    machine = hardware()
    for key, value in machine.items():
        table[key] = value
    log.info("runtime of %d items on %s", len(table), machine)
    write_csv(table, output_csv)
    write_markdown(runtime_markdown(table.drop(columns=list(machine)), machine), output_md)
    return table


def plot_perturbation(
    *,
    curve_paths: Sequence[PathLike],
    random_path: PathLike,
    output_csv: PathLike,
    output_summary_csv: PathLike,
    output_summary_md: PathLike,
    output_png: PathLike,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule plot_perturbation: all curves of a dataset as one table, a summary and a figure."""
    all_curves = [read_curves(p) for p in curve_paths]
    control = read_curves(random_path)
    if not control.is_random:
        raise ValueError(f"{random_path}: not a random-control file (no draw axis)")
    table = pd.concat([curves_table(c) for c in [*all_curves, control]], ignore_index=True)
    write_csv(table, output_csv)
    summary = summarize_curves(table)
    write_csv(summary, output_summary_csv)
    shown = summary.assign(method=[method_label(m) for m in summary["method"]])
    header = f"# Perturbation summary{': ' + title if title else ''}\n\n"
    write_markdown(header + markdown_table(shown), output_summary_md)
    plots.plot_perturbation(table, output_png, title=title, draws=int(control.values.shape[0]))
    return summary


def correlate_layers(
    *,
    gradcam_paths: Mapping[str, PathLike],
    reference: str,
    output_csv: PathLike,
    output_md: PathLike,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule correlate_layers: the layer correlation table as CSV and Markdown."""
    maps: dict[str, np.ndarray] = {}
    order: np.ndarray | None = None
    for layer, path in gradcam_paths.items():
        content = GRADCAM.read(path, load=["cam", "sample_index"])
        if order is None:
            order = content["sample_index"]
        check_aligned(order, content["sample_index"], "sample_index", path)
        maps[layer] = content["cam"]
    table = correlation.correlate_layers(maps, reference)
    log.info("correlated %d layers with %s", len(table), reference)
    write_csv(table, output_csv)
    write_markdown(correlation_markdown(table, reference, title), output_md)
    return table


def perturb_edges(
    *,
    model_path: PathLike,
    explain_set_path: PathLike,
    scores_path: PathLike,
    output_h5: PathLike,
    output_csv: PathLike,
    method: str,
    selection: str,
    spec: Mapping[str, Any],
    max_keypoints: int,
    shap_absolute: bool,
    device: torch.device,
    threads: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> None:
    """Job of rule perturb_edges: the curve of one method's most or least important key points.

    ``spec`` holds the :class:`PerturbationSpec` fields (``mode`` and, for ``self_loop``,
    ``thresh`` and ``zero_out``).

    ``selection`` ``most`` perturbs the highest importance first; ``least`` the most negative
    SHAP values (smallest magnitudes with ``shap_absolute``) or the highest values of the
    negated GradCAM map (the counterfactual explanation).
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, not {selection!r}")
    torch.set_num_threads(threads)
    perturbation = PerturbationSpec(**spec)
    explain = read_explain_set(explain_set_path)
    collected = read_scores(scores_path)
    check_aligned(explain.sample_index, collected.sample_index, "sample_index", scores_path)
    data = evaluation_set(collected.info, explain)
    scores = collected.of(shap_method(shap_absolute) if method == METHOD_SHAP else method)
    model, params = load_checkpoint(model_path, device)
    log.info(
        "perturbing %d E matrices (%s) for %s / %s on %d samples",
        len(params),
        spec,
        method,
        selection,
        len(data.label),
    )
    start = time.perf_counter()
    chosen = scores.importance if selection == "most" else scores.counter
    curves = selection_curve(model, params, data, chosen, max_keypoints, perturbation, device, batch_size)
    config = {**asdict(perturbation), "max_keypoints": max_keypoints, "shap_absolute": shap_absolute}
    attrs = {"method": method, "selection": selection, "elapsed_s": time.perf_counter() - start}
    written = write_curves(
        output_h5, curves, data, False, config, [model_path, explain_set_path, scores_path], attrs
    )
    write_curves_csv(written, output_csv)


def perturb_random(
    *,
    model_path: PathLike,
    features_path: PathLike,
    explain_set_path: PathLike,
    output_h5: PathLike,
    output_csv: PathLike,
    spec: Mapping[str, Any],
    max_keypoints: int,
    draws: int,
    seed: int,
    device: torch.device,
    threads: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> None:
    """Job of rule perturb_random: the random-key-point control curve (mean over seeded draws)."""
    torch.set_num_threads(threads)
    perturbation = PerturbationSpec(**spec)
    data = evaluation_set(read_dataset_info(features_path), read_explain_set(explain_set_path))
    model, params = load_checkpoint(model_path, device)
    log.info(
        "random perturbation: %d draws, %d E matrices (%s), %d samples",
        draws,
        len(params),
        spec,
        len(data.label),
    )
    start = time.perf_counter()
    curves = random_curves(model, params, data, max_keypoints, draws, seed, perturbation, device, batch_size)
    config = {**asdict(perturbation), "max_keypoints": max_keypoints, "draws": draws}
    attrs = {"method": "random", "selection": "random", "elapsed_s": time.perf_counter() - start}
    written = write_curves(output_h5, curves, data, True, config, [model_path, explain_set_path], attrs, seed)
    write_curves_csv(written, output_csv)


# ----------------------------------------------------------------------------- the verdict's criteria

CURVE_FAMILIES = (
    ("deletion", "keypoint", "most"),
    ("deletion", "keypoint", "least"),
    ("insertion", "keypoint", "most"),
    ("deletion", "time", "most"),
)
"""(mode, cells, order) of the faithfulness curves: key-point deletion of the most and of the
least important first, key-point insertion, and deletion of joint x time segments."""
SECONDARY_FAMILIES = CURVE_FAMILIES[0:1] + CURVE_FAMILIES[2:3]
"""The families run with the other imputations (a check of the verdict's imputation): key-point
deletion and insertion, most important first."""


def _internal_names(names: Sequence[str], shap_absolute: bool) -> dict[str, str]:
    """Verdict name -> the method's name in ``scores.h5`` and the ground-truth tables."""
    out = {}
    for name in names:
        if name == METHOD_SHAP:
            out[name] = shap_method(shap_absolute)
        else:
            out[name] = name
    return out


def _verdict_maps(scores: Scores, names: Sequence[str], shap_absolute: bool) -> dict[str, np.ndarray]:
    """Per-frame maps (sample, frame, joint) of the verdict's methods from ``scores.h5`` (``random`` excluded)."""
    internal = _internal_names(names, shap_absolute)
    missing = [n for n in names if n != METHOD_RANDOM and internal[n] not in scores.methods]
    if missing:
        raise ValueError(f"scores.h5 holds no maps of {missing} (has {list(scores.methods)})")
    return {n: scores.of(internal[n]).frame_map for n in names if n != METHOD_RANDOM}


def _explain_subset(explain_set_path: PathLike, size: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of a seeded class-balanced subset of the explain set (all when ``size`` is None)."""
    explain = read_explain_set(explain_set_path)
    assert explain.inputs is not None
    rows = stratified_subset(explain.label, size, seed)
    return explain.inputs[rows], explain.target[rows]


def _background_rows(background_path: PathLike, rows: int | None) -> np.ndarray:
    """The first ``rows`` SHAP background rows (all when None)."""
    background = BACKGROUND.read(background_path, load=["background"])["background"].astype(np.float32)
    return background if rows is None else background[:rows]


def _recomputed_maps(
    model_path: PathLike,
    explain_set_path: PathLike,
    background_path: PathLike,
    methods: Sequence[str],
    shap_absolute: bool,
    variant: str,
    samples: int,
    background_rows: int,
    seed: int,
    device: torch.device | str,
) -> tuple[nn.Module, np.ndarray, np.ndarray, dict[str, MapMethod]]:
    """What the sanity check and the robustness metrics share: the model, a seeded class-balanced
    subset of the explain set (inputs, targets) and the methods as map methods (SHAP against the
    first ``background_rows`` background rows)."""
    inputs, target = _explain_subset(explain_set_path, samples, seed)
    model = load_job_model(model_path, device)
    background = _background_rows(background_path, background_rows)
    maps = map_methods(
        methods, background=background, shap_absolute=shap_absolute, variant=variant, seed=seed
    )
    return model, inputs, target, maps


def oracle(
    *,
    model_path: PathLike,
    features_path: PathLike,
    ground_truth_path: PathLike,
    output_csv: PathLike,
    seed: int,
    repeats: int,
    mode: str,
    device: torch.device | str,
    threads: int = 1,
) -> pd.DataFrame:
    """Job of rule oracle: does the model rely on each class's planted joints (validation split)?

    See :mod:`harxai.evaluate.oracle` for the isolation and the thresholds.
    """
    torch.set_num_threads(threads)
    table = run_model_reliance_oracle(
        model_path=model_path,
        features_path=features_path,
        ground_truth_path=ground_truth_path,
        output_csv=output_csv,
        seed=seed,
        repeats=repeats,
        mode=mode,
        device=device,
    )
    log.info("oracle: %d of %d classes verified", int(table["verified"].sum()), len(table))
    return table


def faithfulness(
    *,
    model_path: PathLike,
    explain_set_path: PathLike,
    background_path: PathLike,
    scores_path: PathLike,
    output_curves_csv: PathLike,
    output_areas_csv: PathLike,
    output_png: PathLike,
    methods: Sequence[str],
    shap_absolute: bool,
    imputations: Sequence[str],
    max_cells: int,
    segment_frames: int,
    draws: int,
    seed: int,
    device: torch.device | str,
    threads: int = 1,
    imputation: str | None = None,
    samples: int | None = None,
    steps: Sequence[int] | None = None,
    batch_size: int = 64,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule faithfulness: deletion and insertion curves at the input, for any model.

    With ``imputation`` (the verdict's; :class:`harxai.evaluate.faithfulness.Imputation`) the curve
    families of :data:`CURVE_FAMILIES` are run, with every other imputation of ``imputations``
    those of :data:`SECONDARY_FAMILIES` (all families with every imputation when ``imputation``
    is None), for every method of ``methods`` (verdict names; ``random`` is
    the seeded control of ``draws`` random orders) from its map in ``scores.h5``, on a seeded
    class-balanced subset of ``samples`` explained samples (all when None), for the k of
    ``steps`` up to ``max_cells`` (every k = 0..max_cells when None). Writes the long curve and
    area tables (with the columns ``imputation``, ``mode``, ``cells``) and a figure of the
    true-class-probability curves; returns the area table.
    """
    torch.set_num_threads(threads)
    explain = read_explain_set(explain_set_path)
    assert explain.inputs is not None
    scores = read_scores(scores_path)
    check_aligned(explain.sample_index, scores.sample_index, "sample_index", scores_path)
    info = scores.info
    rows = stratified_subset(explain.label, samples, seed)
    maps = {name: m[rows] for name, m in _verdict_maps(scores, methods, shap_absolute).items()}
    data = EvaluationData(
        inputs=explain.inputs[rows],
        label=explain.label[rows],
        recording_id=explain.recording_id[rows],
        panels=scoring_panels(info.task, info.class_names, explain.label[rows]),
    )
    grid = None if steps is None else tuple(int(k) for k in steps if k <= max_cells)
    log.info(
        "faithfulness on %d of %d samples, k in %s", len(rows), len(explain.label), grid or f"0..{max_cells}"
    )
    model = load_job_model(model_path, device)
    background = _background_rows(background_path, None)
    curves, areas = [], []
    start = time.perf_counter()
    for kind in imputations:
        imputer = Imputer(background, info.layout.adjacency(), Imputation(kind))
        shared: dict[tuple[str, str], np.ndarray] = {}  # the random control of (mode, cells), any order
        families = CURVE_FAMILIES if imputation in (None, kind) else SECONDARY_FAMILIES
        for mode, cells, order in families:
            spec = CurveSpec(
                mode=mode,
                max_cells=max_cells,
                steps=grid,
                segment_frames=None if cells == "keypoint" else segment_frames,
                seed=seed,
                batch_size=batch_size,
            )
            result = faithfulness_curves(
                model,
                data,
                maps,
                imputer,
                spec,
                order=order,
                draws=draws,
                random_probability=shared.get((mode, cells)),
            )
            shared[(mode, cells)] = result.probability["random"]
            tags = {"imputation": kind, "mode": mode, "cells": cells}
            curves.append(result.curves.assign(**tags))
            areas.append(result.areas.assign(**tags))
            log.info(
                "faithfulness %s %s %s (%s): %.1f s", kind, mode, cells, order, time.perf_counter() - start
            )
    curve_table = pd.concat(curves, ignore_index=True)
    area_table = pd.concat(areas, ignore_index=True)
    write_csv(curve_table, output_curves_csv)
    write_csv(area_table, output_areas_csv)
    plots.plot_faithfulness(curve_table, output_png, title=title)
    return area_table


def sanity_check(
    *,
    model_path: PathLike,
    explain_set_path: PathLike,
    background_path: PathLike,
    output_csv: PathLike,
    output_png: PathLike,
    methods: Sequence[str],
    shap_absolute: bool,
    variant: str,
    samples: int,
    stages: int,
    background_rows: int,
    seed: int,
    device: torch.device | str,
    threads: int = 1,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule sanity_check: cascading randomisation (Adebayo et al. 2018) of every method.

    On a seeded subset of ``samples`` explained samples, the model's parameters are randomised
    in ``stages`` stages from the classifier to the input (:mod:`harxai.evaluate.sanity`), each
    method's map recomputed and compared with the trained one by Spearman's rho; SHAP uses the
    first ``background_rows`` background rows.
    """
    torch.set_num_threads(threads)
    model, inputs, target, maps = _recomputed_maps(
        model_path,
        explain_set_path,
        background_path,
        methods,
        shap_absolute,
        variant,
        samples,
        background_rows,
        seed,
        device,
    )
    cascade = cascading_stages(model, inputs[:2], stages)
    table = cascading_randomization(model, inputs, target, maps, cascade, seed=seed)
    write_csv(table, output_csv)
    plots.plot_sanity(table, output_png, FAIL_RHO, title=title)
    summary = sanity_summary(table)
    log.info(
        "sanity: %s",
        ", ".join(f"{m} rho={r:.2f}" for m, r in zip(summary["method"], summary["rho"], strict=True)),
    )
    return table


def robustness(
    *,
    model_path: PathLike,
    explain_set_path: PathLike,
    background_path: PathLike,
    output_csv: PathLike,
    methods: Sequence[str],
    shap_absolute: bool,
    variant: str,
    samples: int,
    background_rows: int,
    spec: Mapping[str, Any],
    seed: int,
    device: torch.device | str,
    threads: int = 1,
) -> pd.DataFrame:
    """Job of rule robustness: captum's ``sensitivity_max`` and ``infidelity`` of every method.

    On a seeded subset of ``samples`` explained samples (:mod:`harxai.evaluate.robustness`);
    ``spec`` holds the :class:`RobustnessSpec` fields except the seed.
    """
    torch.set_num_threads(threads)
    model, inputs, target, maps = _recomputed_maps(
        model_path,
        explain_set_path,
        background_path,
        methods,
        shap_absolute,
        variant,
        samples,
        background_rows,
        seed,
        device,
    )
    table = robustness_table(model, inputs, target, maps, RobustnessSpec(**spec, seed=seed))
    write_csv(table, output_csv)
    return table


def _runtime_estimates(
    methods: Sequence[str],
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    baselines_path: PathLike,
) -> dict[tuple[str, str], Estimate]:
    """``runtime_s`` of each method: the core seconds its explain job recorded (SHAP: all chunks)."""
    out: dict[tuple[str, str], Estimate] = {}
    if "shap" in methods:
        out[("shap", "runtime_s")] = Estimate(float(SHAP.read(shap_path, load=[]).attrs["elapsed_s"]))
    for layer, path in gradcam_paths.items():
        name = gradcam_method(layer)
        if name in methods:
            out[(name, "runtime_s")] = Estimate(float(GRADCAM.read(path, load=[]).attrs["elapsed_s"]))
    content = BASELINES.read(baselines_path, load=["method", "elapsed_s"])
    for name, seconds in zip(content["method"], content["elapsed_s"], strict=True):
        if str(name) in methods:
            out[(str(name), "runtime_s")] = Estimate(float(seconds))
    return out


def verdict(
    *,
    methods: Sequence[str],
    areas_csv: PathLike,
    sanity_csv: PathLike,
    robustness_csv: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    baselines_path: PathLike,
    output_csv: PathLike,
    output_png: PathLike,
    output_md: PathLike,
    imputation: str,
    shap_absolute: bool,
    ground_truth_csv: PathLike | None = None,
    ground_truth_time_csv: PathLike | None = None,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule verdict: every method against every criterion in ``verdict.csv``, a figure and a paragraph.

    Ground truth (synthetic data only; verified classes only) from the ground-truth tables,
    faithfulness from the areas of ``imputation``, the sanity check's rho once the whole network
    is random, the robustness metrics, and the core seconds of each method's explain job.
    """
    names = {internal: name for name, internal in _internal_names(methods, shap_absolute).items()}
    estimates: dict[tuple[str, str], Estimate] = {}
    gt = pd.read_csv(ground_truth_csv) if ground_truth_csv else None
    gt_time = pd.read_csv(ground_truth_time_csv) if ground_truth_time_csv else None
    estimates.update(ground_truth_estimates(gt, gt_time, names))
    estimates.update(faithfulness_estimates(pd.read_csv(areas_csv), imputation))
    summary = sanity_summary(pd.read_csv(sanity_csv))
    estimates.update(estimates_from(summary, "sanity_rho", value="rho"))
    robust = pd.read_csv(robustness_csv)
    for criterion in ("sensitivity_max", "infidelity"):
        estimates.update(estimates_from(robust[robust["criterion"] == criterion], criterion))
    estimates.update(_runtime_estimates(methods, shap_path, gradcam_paths, baselines_path))
    estimates = {k: v for k, v in estimates.items() if k[0] in methods}
    table = verdict_table(methods, estimates)
    paragraph = write_verdict(table, output_csv, output_png, title)
    header = f"# Verdict{': ' + title if title else ''}\n\n{paragraph}\n\n"
    write_markdown(header + markdown_table(table), output_md)
    log.info("verdict of %d methods: %s", len(methods), paragraph)
    return table

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

from .. import plots
from ..io.contracts import GRADCAM, SCORES, read_explain_set
from ..methods import (
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
from .ground_truth import ground_truth_markdown, read_ground_truth
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
from .runtime import hardware, runtime_markdown
from .sources import (
    SELECTIONS,
    PathLike,
    check_aligned,
    read_all_scores,
    read_dataset_info,
    read_scores,
)
from .sources import collect_scores as collect_scores_arrays
from .tables import markdown_table, write_csv, write_markdown

log = logging.getLogger(__name__)


def collect_scores(
    *,
    explain_set_path: PathLike,
    features_path: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    output_path: PathLike,
) -> None:
    """Job of rule collect_scores: every method's aligned key-point scores in ``scores.h5``.

    The one place the evaluation reads SHAP and GradCAM files and checks that they cover the
    explain set's samples in order; rankings, perturbation and ground truth read ``scores.h5``.
    """
    arrays, attrs = collect_scores_arrays(explain_set_path, features_path, shap_path, gradcam_paths)
    inputs = [explain_set_path, features_path, shap_path, *gradcam_paths.values()]
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
    """Job of rule rank_keypoints: rankings of SHAP and every GradCAM layer, CSV and boxplots.

    Parameters
    ----------
    scores_path
        ``evaluate/scores.h5`` (rule collect_scores); every GradCAM layer is ranked in the CSV.
    output_csv, output_png
        The ranking table and the boxplot figure.
    shap_absolute
        Rank SHAP by absolute instead of signed sums.
    figure_layers
        GradCAM layers drawn next to SHAP in the figure.
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
    shown = {m: importance[m] for m in methods_of(figure_layers)}
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
    ground_truth_path: PathLike,
    output_csv: PathLike,
    output_md: PathLike,
    title: str = "",
) -> pd.DataFrame:
    """Job of rule score_ground_truth: the ground-truth table of SHAP (signed and absolute) and every layer."""
    scores = read_scores(scores_path)
    info = scores.info
    truth = read_ground_truth(ground_truth_path, info.class_names, info.layout.num_joints)
    importance = {m: scores.of(m).importance for m in scores.methods}
    table = ground_truth.score_ground_truth(
        importance, scores.label, truth, info.class_names, info.layout.joints
    )
    log.info("ground truth: %d rows for %d methods", len(table), len(importance))
    write_csv(table, output_csv)
    write_markdown(ground_truth_markdown(table, title), output_md)
    return table


def draw_skeletons(
    *,
    windows_path: PathLike,
    explain_set_path: PathLike,
    shap_path: PathLike,
    gradcam_paths: Mapping[str, PathLike],
    output_png: PathLike,
    samples: int,
    columns: int,
    shap_absolute: bool,
) -> None:
    """Job of rule draw_skeletons: SHAP and GradCAM layers on the skeleton of chosen samples.

    Parameters
    ----------
    windows_path
        windows.h5 (normalised coordinates; rows indexed by explain_set's ``sample_index``).
    gradcam_paths
        The GradCAM layers to draw (evaluate.figure_layers) -> file.
    samples
        Samples (fixed) or recordings (windows) to draw.
    columns
        Spans (fixed) or windows per sample or recording.
    """
    info = read_dataset_info(windows_path)
    explain = read_explain_set(explain_set_path, with_inputs=False)
    data, starts = read_window_rows(windows_path, explain.sample_index)
    sources: dict[str, PathLike] = {METHOD_SHAP: shap_path}
    sources.update({gradcam_method(x): p for x, p in gradcam_paths.items()})
    scores = read_all_scores(sources, explain.sample_index, shap_absolute)
    maps = {method_label(m): s.frame_map for m, s in scores.items()}
    if info.segment == "windows":
        blocks = window_blocks(
            data, maps, explain.label, explain.recording_id, starts, info.class_names, samples, columns
        )
    else:
        blocks = fixed_blocks(data, maps, explain.label, info.class_names, samples, columns)
    log.info("drawing %d blocks of %d methods", len(blocks), len(maps))
    signed = {method_label(METHOD_SHAP): not shap_absolute}
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

"""Figures: rankings, perturbation curves, skeleton overlays (labels, legends, files) and their data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_evaluate_fixtures import JOINTS, LAYOUT, V, make_inputs

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.overlay import (
    choose_units,
    fixed_blocks,
    span_mean,
    valid_frames,
    window_blocks,
)
from harxai.evaluate.sources import read_all_scores, read_scores
from harxai.plots import plot_perturbation, plot_rankings, plot_skeletons, save_figure
from harxai.plots.rankings import scaled_values
from harxai.plots.skeletons import SkeletonBlock, SkeletonPanel, upright
from harxai.plots.style import new_figure

PNG = b"\x89PNG\r\n\x1a\n"


def test_save_figure_png_svg_and_bad_suffix(tmp_path: Path) -> None:
    fig = new_figure(2, 2)
    fig.subplots().plot([0, 1], [1, 0])
    assert save_figure(fig, tmp_path / "a.png").read_bytes()[:8] == PNG
    assert b"<svg" in save_figure(fig, tmp_path / "a.svg").read_bytes()[:500]
    with pytest.raises(ValueError, match="png or svg"):
        save_figure(fig, tmp_path / "a.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg"]  # no temporary leftovers


def test_scaled_values_keep_rankings() -> None:
    v = np.array([[2.0, -4.0, 1.0], [0.5, 0.0, 3.0], [9.0, 9.0, 9.0]])
    out = scaled_values(v, np.array([True, True, False]))
    np.testing.assert_allclose(out, v[:2] / 4.0)


def test_ranking_figure_has_labelled_sorted_axes_and_legend(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    shap = rng.normal(size=(8, V)) + np.arange(V)  # median increases with joint index
    labels = np.array([0] * 4 + [1] * 4)
    fig = plot_rankings(
        {"shap": shap, "gradcam:main.1.att": rng.random((8, V))},
        labels,
        ["a", "b"],
        JOINTS,
        tmp_path / "r.png",
    )
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG
    axes = fig.axes
    assert len(axes) == 2
    for ax in axes:
        assert ax.get_xlabel().startswith("key point")
        assert "importance" in ax.get_ylabel()
        assert [t.get_text() for t in ax.get_xticklabels()] == list(JOINTS[::-1])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["SHAP", "GradCAM main.1.att"]


def test_perturbation_figure_rows_and_columns(tmp_path: Path) -> None:
    rows = []
    for method, selection in [
        ("shap", "most"),
        ("shap", "least"),
        ("gradcam:x", "most"),
        ("gradcam:x", "least"),
        ("random", "random"),
    ]:
        for panel in ("all", "A001"):
            for k in range(4):
                v = 1 - 0.1 * k
                rows.append(
                    {
                        "method": method,
                        "selection": selection,
                        "k": k,
                        "panel": panel,
                        "metric": "accuracy",
                        "value": v,
                        "ci_low": v - 0.05,
                        "ci_high": v + 0.05,
                    }
                )
    fig = plot_perturbation(pd.DataFrame(rows), tmp_path / "p.svg", title="toy", draws=10)
    assert b"<svg" in (tmp_path / "p.svg").read_bytes()[:500]
    assert len(fig.axes) == 4
    assert all(
        ax.get_xlabel() == "perturbed key points k" and ax.get_ylabel() == "top-1 accuracy" for ax in fig.axes
    )
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["random: 95 % CI of the mean", "random: mean of 10 draws", "SHAP", "GradCAM x"]


def test_span_mean_maps_coarse_frames() -> None:
    coarse = np.arange(8, dtype=float).reshape(4, 2)  # 4 coarse frames for 8 input frames
    np.testing.assert_allclose(span_mean(coarse, 0, 8, 8), coarse.mean(axis=0))
    np.testing.assert_allclose(span_mean(coarse, 2, 4, 8), coarse[1])
    np.testing.assert_allclose(span_mean(coarse, 7, 8, 8), coarse[3])


def test_valid_frames_and_unit_choice() -> None:
    sample = np.ones((2, 10, V, 1))
    sample[:, 7:] = 0.0
    assert valid_frames(sample) == 7
    labels = np.array([0, 0, 1, 1, 2])
    assert choose_units(labels, np.arange(5), 4) == [0, 2, 4, 1]
    recs = np.array(["a", "b", "b", "c", "c"])
    assert choose_units(np.array([0, 0, 0, 1, 1]), recs, 2) == ["b", "c"]


def test_blocks_for_samples_and_windows() -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(size=(4, 2, 8, V, 1))
    maps = {"SHAP": rng.normal(size=(4, 8, V)), "GradCAM x": rng.random((4, 2, V))}
    labels = np.array([0, 0, 1, 1])
    blocks = fixed_blocks(data, maps, labels, ["a", "b"], count=2, columns=4)
    assert [b.title for b in blocks] == ["a: sample 0", "b: sample 2"]
    panel = blocks[1].panels[1]
    assert panel.title == "frames 2-3"
    np.testing.assert_allclose(panel.values["SHAP"], maps["SHAP"][2, 2:4].mean(axis=0))
    np.testing.assert_allclose(panel.pose, data[2, :2, 2, :, 0].T)
    recs = np.array(["r1", "r1", "r2", "r2"])
    starts = np.array([2.5, 0.0, 0.0, 2.5])
    wblocks = window_blocks(data, maps, labels, recs, starts, ["a", "b"], count=2, columns=3)
    assert [p.title for p in wblocks[0].panels] == ["window at 0.0 s", "window at 2.5 s"]
    np.testing.assert_allclose(wblocks[0].panels[0].values["GradCAM x"], maps["GradCAM x"][1].mean(axis=0))


def test_skeleton_figure_rows_and_colour_bars(tmp_path: Path) -> None:
    pose = np.stack([np.zeros(V), np.arange(V, dtype=float)], axis=1)
    panels = tuple(
        SkeletonPanel(f"p{i}", pose, {"SHAP": np.linspace(-1, 1, V), "GradCAM x": np.linspace(0, 2, V)})
        for i in range(3)
    )
    fig = plot_skeletons(
        [SkeletonBlock("A", panels), SkeletonBlock("B", panels[:2])],
        LAYOUT,
        tmp_path / "s.png",
        signed={"SHAP": True},
    )
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 4
    assert all(b.get_ylabel() == "importance" for b in bars)
    assert bars[0].get_ylim() == pytest.approx((-1.0, 1.0))
    assert bars[1].get_ylim() == pytest.approx((0.0, 2.0))
    with pytest.raises(ValueError, match="no samples"):
        plot_skeletons([], LAYOUT, tmp_path / "e.png")


def test_upright_flips_image_coordinates_only() -> None:
    pose = np.stack([np.zeros(V), np.arange(V, dtype=float)], axis=1)  # y grows from head to foot
    flipped = upright(pose, LAYOUT)  # trunk top (neck, 1) must end above the bottom (pelvis, 3)
    np.testing.assert_array_equal(flipped[:, 1], -pose[:, 1])
    np.testing.assert_array_equal(upright(flipped, LAYOUT), flipped)


@pytest.mark.parametrize("task", ["multiclass", "binary"])
def test_draw_skeletons_job(tmp_path: Path, task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = make_inputs(tmp_path, task=task)
    drawn: list[tuple[list[str], dict[str, bool]]] = []
    given: list[dict[str, np.ndarray]] = []
    real = evaluate_jobs.plots.plot_skeletons

    def spy(blocks, layout, output, signed=None):  # type: ignore[no-untyped-def]
        drawn.append((list(blocks[0].panels[0].values), dict(signed or {})))
        return real(blocks, layout, output, signed=signed)

    def spy_blocks(real_blocks):  # type: ignore[no-untyped-def]
        def blocks(data, maps, *args):  # type: ignore[no-untyped-def]
            given.append(dict(maps))
            return real_blocks(data, maps, *args)

        return blocks

    monkeypatch.setattr(evaluate_jobs.plots, "plot_skeletons", spy)
    monkeypatch.setattr(evaluate_jobs, "fixed_blocks", spy_blocks(evaluate_jobs.fixed_blocks))
    monkeypatch.setattr(evaluate_jobs, "window_blocks", spy_blocks(evaluate_jobs.window_blocks))
    layers = ["main.1.tcn.conv", "main.1.att"]
    for absolute in (False, True):
        evaluate_jobs.draw_skeletons(
            windows_path=inputs.windows,
            scores_path=inputs.scores,
            figure_layers=layers,
            output_png=tmp_path / "skeletons.png",
            samples=2,
            columns=3,
            shap_absolute=absolute,
        )
        assert (tmp_path / "skeletons.png").read_bytes()[:8] == PNG
        # the maps drawn are those of the explanation files, read through scores.h5
        sample_index = read_scores(inputs.scores).sample_index
        sources = {"shap": inputs.shap, **{f"gradcam:{x}": inputs.gradcam[x] for x in layers}}
        expected = read_all_scores(sources, sample_index, absolute)
        np.testing.assert_allclose(given[-1]["SHAP"], expected["shap"].frame_map, rtol=1e-6)
        for x in layers:  # GradCAM maps of coarser layers repeated to the input's frames
            got, native = given[-1][f"GradCAM {x}"], expected[f"gradcam:{x}"].frame_map
            assert got.shape[1] % native.shape[1] == 0
            np.testing.assert_allclose(
                got, np.repeat(native, got.shape[1] // native.shape[1], axis=1), rtol=1e-6
            )
        assert (given[-1]["SHAP"] >= 0).all() == absolute
    methods, signed = drawn[0]
    assert methods == [
        "SHAP",
        "GradCAM main.1.tcn.conv",
        "GradCAM main.1.att",
        "motion energy",
        "random",
        "input x gradient",
    ]
    assert signed == {"SHAP": True, "input x gradient": True}
    assert drawn[1][1] == {"SHAP": False, "input x gradient": True}

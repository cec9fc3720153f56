"""Deletion and insertion at the input: cells, imputation, curves and areas on models with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from verdict_models import (
    CHAIN,
    FRAMES,
    JOINTS,
    Linear,
    ReadsOneKeyPoint,
    key_point_data,
    zero_background,
)

from harxai.evaluate.faithfulness import (
    CurveSpec,
    EvaluationData,
    Imputation,
    Imputer,
    area_between,
    cell_scores,
    cells_mask,
    curve_logits,
    faithfulness_curves,
    model_logits,
    rank_cells,
    resample_frames,
)
from harxai.evaluate.scoring import scoring_panels


def _data(x: np.ndarray, labels: np.ndarray) -> EvaluationData:
    rec = np.array([f"r{i}" for i in range(len(labels))])
    return EvaluationData(x, labels, rec, scoring_panels("multiclass", ["a", "b"], labels))


def test_cells_mask_key_points_and_segments() -> None:
    m = cells_mask(np.array([[3], [0]]), FRAMES, JOINTS, None)
    assert m.shape == (2, FRAMES, JOINTS)
    assert m[0, :, 3].all()
    assert m[0].sum() == FRAMES
    # segments of 5 frames over 12 frames: 3 segments, the last of 2 frames; cell = segment * joints + joint
    m = cells_mask(np.array([[2 * JOINTS + 1, 0 * JOINTS + 4]]), FRAMES, JOINTS, 5)
    assert m[0, 10:, 1].all()
    assert m[0, :5, 4].all()
    assert m.sum() == 2 + 5


def test_cell_scores_resample_and_segment_means() -> None:
    rng = np.random.default_rng(0)
    fine = rng.random((2, FRAMES, JOINTS))
    scores = cell_scores(fine, FRAMES, JOINTS, 4)
    np.testing.assert_allclose(scores.reshape(2, 3, JOINTS)[:, 1], fine[:, 4:8].mean(axis=1))
    np.testing.assert_allclose(cell_scores(fine, FRAMES, JOINTS, None), fine.mean(axis=1))
    # a coarse map (half the frames) is resampled like torch's linear interpolation
    coarse = rng.random((2, FRAMES // 2, JOINTS))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(coarse).permute(0, 2, 1), size=FRAMES, mode="linear", align_corners=False
    ).permute(0, 2, 1)
    np.testing.assert_allclose(resample_frames(coarse, FRAMES), expected.numpy())
    with pytest.raises(ValueError, match="frame axis"):
        cell_scores(fine.mean(axis=1), FRAMES, JOINTS, 4)
    with pytest.raises(ValueError, match="NaN"):
        cell_scores(np.full((1, JOINTS), np.nan), FRAMES, JOINTS, None)


def test_rank_cells_most_least_and_ties() -> None:
    s = np.array([[0.1, 0.5, 0.5, -1.0]])
    assert rank_cells(s, "most").tolist() == [[1, 2, 0, 3]]
    assert rank_cells(s, "least").tolist() == [[3, 0, 1, 2]]


def test_mean_imputation_uses_the_background_mean() -> None:
    rng = np.random.default_rng(0)
    bg = rng.normal(size=(5, 2, 2, FRAMES, JOINTS, 1))
    x = rng.normal(size=(3, 2, 2, FRAMES, JOINTS, 1)).astype(np.float32)
    mask = np.zeros((3, FRAMES, JOINTS), bool)
    mask[1, 2:4, 5] = True
    out = Imputer(bg, None, Imputation("mean")).impute(x, mask, rng)
    np.testing.assert_allclose(out[1, :, :, 2:4, 5], bg.mean(axis=0)[:, :, 2:4, 5], rtol=1e-6)
    keep = ~mask[:, None, None, :, :, None].repeat(2, 1).repeat(2, 2)
    np.testing.assert_array_equal(out[keep], x[keep])


def test_linear_imputation_solves_the_neighbour_equations() -> None:
    """One cell with known neighbours: x = (sum of neighbours + a * mu) / (deg + a); two adjacent unknowns jointly."""
    rng = np.random.default_rng(0)
    bg = rng.normal(size=(4, 1, 1, FRAMES, JOINTS, 1))
    mu = bg.mean(axis=0)[0, 0, :, :, 0]
    x = rng.normal(size=(1, 1, 1, FRAMES, JOINTS, 1)).astype(np.float32)
    xs = x[0, 0, 0, :, :, 0].astype(np.float64)
    a = 0.3
    imputer = Imputer(bg, CHAIN, Imputation("linear", noise=0.0, anchor=a))
    mask = np.zeros((1, FRAMES, JOINTS), bool)
    mask[0, 5, 2] = True
    out = imputer.impute(x, mask, rng)[0, 0, 0, :, :, 0]
    neighbours = xs[5, 1] + xs[5, 3] + xs[4, 2] + xs[6, 2]
    assert out[5, 2] == pytest.approx((neighbours + a * mu[5, 2]) / (4 + a), rel=1e-5)
    # two unknowns (5, 2) and (5, 3) couple: solve the 2 x 2 system independently
    mask[0, 5, 3] = True
    out = imputer.impute(x, mask, rng)[0, 0, 0, :, :, 0]
    k2 = xs[5, 1] + xs[4, 2] + xs[6, 2] + a * mu[5, 2]
    k3 = xs[5, 4] + xs[4, 3] + xs[6, 3] + a * mu[5, 3]
    sol = np.linalg.solve(np.array([[4 + a, -1.0], [-1.0, 4 + a]]), np.array([k2, k3]))
    np.testing.assert_allclose([out[5, 2], out[5, 3]], sol, rtol=1e-5)
    # a constant field with the same background mean is reproduced exactly
    const = np.full_like(x, 2.0)
    imputer = Imputer(np.full((3, 1, 1, FRAMES, JOINTS, 1), 2.0), CHAIN, Imputation("linear", noise=0.0))
    full = np.ones((1, FRAMES, JOINTS), bool)
    np.testing.assert_allclose(imputer.impute(const, full, rng), 2.0, rtol=1e-6)


def test_linear_imputation_noise_is_scaled_and_seeded() -> None:
    rng = np.random.default_rng(0)
    bg = rng.normal(scale=3.0, size=(50, 1, 1, FRAMES, JOINTS, 1))
    x = np.zeros((4, 1, 1, FRAMES, JOINTS, 1), np.float32)
    mask = np.ones((4, FRAMES, JOINTS), bool)
    imputer = Imputer(bg, CHAIN, Imputation("linear", noise=0.5))
    quiet = Imputer(bg, CHAIN, Imputation("linear", noise=0.0)).impute(x, mask, np.random.default_rng(1))
    noisy = imputer.impute(x, mask, np.random.default_rng(1))
    assert np.std(noisy - quiet) == pytest.approx(0.5 * bg.std(), rel=0.15)
    np.testing.assert_array_equal(noisy, imputer.impute(x, mask, np.random.default_rng(1)))


@pytest.mark.parametrize("kind", ["mean", "linear"])
def test_model_reading_key_point_3_fails_only_there(kind: str) -> None:
    """Deleting one key point changes the output only for key point 3; one time cell only inside frames 4..7."""
    model = ReadsOneKeyPoint(joint=3, frames=slice(4, 8))
    x, _ = key_point_data()
    imputer = Imputer(zero_background(), CHAIN, Imputation(kind, noise=0.05))
    clean = model_logits(model, x)
    for joint in range(JOINTS):
        order = np.tile(np.r_[joint, np.delete(np.arange(JOINTS), joint)], (len(x), 1))
        logits = curve_logits(model, x, order, imputer, CurveSpec("deletion", max_cells=1))
        changed = np.abs(logits[1] - clean).max() > 1e-6
        assert changed == (joint == 3), joint
    segment = 2  # 6 segments; the model reads frames 4..7 = segments 2 and 3
    cells = (FRAMES // segment) * JOINTS
    for cell in range(cells):
        seg, joint = divmod(cell, JOINTS)
        order = np.tile(np.r_[cell, np.delete(np.arange(cells), cell)], (len(x), 1))
        logits = curve_logits(model, x, order, imputer, CurveSpec("deletion", 1, segment_frames=segment))
        changed = np.abs(logits[1] - clean).max() > 1e-6
        assert changed == (joint == 3 and seg in (2, 3)), (seg, joint)


def test_deletion_curve_of_the_right_map_beats_random() -> None:
    """A map ranking key point 3 first drops accuracy to 0 at k = 1; random needs more steps; area < 0."""
    model = ReadsOneKeyPoint()
    x, labels = key_point_data(n=12)
    right = np.zeros((len(x), FRAMES, JOINTS))
    right[:, 4:8, 3] = 1.0
    wrong = np.zeros((len(x), JOINTS))
    wrong[:, 0] = 1.0
    imputer = Imputer(zero_background(), None, Imputation("mean"))
    result = faithfulness_curves(
        model, _data(x, labels), {"right": right, "wrong": wrong}, imputer, CurveSpec("deletion", 4), draws=10
    )
    acc = result.curves[(result.curves["panel"] == "all")].set_index(["method", "k"])["value"]
    assert acc[("right", 0)] == 1.0
    assert acc[("right", 1)] == 0.0
    assert acc[("wrong", 1)] == 1.0
    assert acc[("random", 1)] == pytest.approx(5 / 6, abs=0.15)  # key point 3 drawn first ~ 1 time in 6
    areas = result.areas.set_index(["method", "panel"])
    assert areas.loc[("right", "confidence"), "area"] < areas.loc[("right", "confidence"), "ci_high"] < 0
    assert areas.loc[("wrong", "confidence"), "ci_low"] > 0  # worse than random: 3 deleted last
    rnd = areas.loc[("random", "confidence")]
    assert rnd["area"] == pytest.approx(0.0, abs=1e-12)
    assert rnd["ci_low"] < 0 < rnd["ci_high"]
    assert rnd["n"] == 10
    # time cells: only the frames the model reads matter
    tresult = faithfulness_curves(
        model,
        _data(x, labels),
        {"right": right},
        imputer,
        CurveSpec("deletion", 3, segment_frames=2),
        draws=10,
    )
    conf = tresult.curves[(tresult.curves["panel"] == "confidence")].set_index(["method", "k"])["value"]
    # one of the two read segments deleted: the mean is 0.5, logit 0; both: logit -5
    assert conf[("right", 1)] == pytest.approx(0.5)
    assert conf[("right", 2)] == pytest.approx(1 / (1 + np.exp(5)))


def test_insertion_and_deletion_mirror_on_a_linear_model() -> None:
    """With mean imputation, logits(deleting S) + logits(inserting S) = f(x) + f(background mean)."""
    rng = np.random.default_rng(3)
    model = Linear()
    x = rng.normal(size=(5, 2, 2, FRAMES, JOINTS, 1)).astype(np.float32)
    bg = rng.normal(size=(7, 2, 2, FRAMES, JOINTS, 1)).astype(np.float32)
    imputer = Imputer(bg, None, Imputation("mean"))
    order = np.argsort(rng.random((5, JOINTS)), axis=1)
    deletion = curve_logits(model, x, order, imputer, CurveSpec("deletion", JOINTS))
    insertion = curve_logits(model, x, order, imputer, CurveSpec("insertion", JOINTS))
    base = model_logits(
        model, np.broadcast_to(bg.astype(np.float64).mean(axis=0), x.shape).astype(np.float32)
    )
    total = model_logits(model, x) + base
    np.testing.assert_allclose(deletion + insertion, np.broadcast_to(total, deletion.shape), atol=1e-4)
    np.testing.assert_allclose(deletion[-1], base, atol=1e-4)
    np.testing.assert_allclose(insertion[0], base, atol=1e-4)


def test_area_between_is_trapezoid_in_units_of_k() -> None:
    k = np.arange(5)
    assert area_between(np.zeros(5), np.ones(5), k) == pytest.approx(-1.0)
    assert area_between(np.array([0, 1, 1, 1, 1.0]), np.zeros(5), k) == pytest.approx(0.875)


def test_random_control_is_seeded_and_needs_two_draws() -> None:
    model = ReadsOneKeyPoint()
    x, labels = key_point_data(n=6)
    imputer = Imputer(zero_background(), CHAIN, Imputation("linear"))
    spec = CurveSpec("insertion", 3, seed=7)
    a = faithfulness_curves(model, _data(x, labels), {}, imputer, spec, draws=3)
    b = faithfulness_curves(model, _data(x, labels), {}, imputer, spec, draws=3)
    np.testing.assert_array_equal(a.probability["random"], b.probability["random"])
    with pytest.raises(ValueError, match="2 draws"):
        faithfulness_curves(model, _data(x, labels), {}, imputer, spec, draws=1)


def test_a_shared_random_control_gives_the_tables_of_a_fresh_one() -> None:
    """The least-first curves reuse the most-first call's random control: same tables as recomputing it."""
    model = ReadsOneKeyPoint()
    x, labels = key_point_data(n=6)
    imputer = Imputer(zero_background(), CHAIN, Imputation("linear"))
    spec = CurveSpec("deletion", 3, seed=2)
    maps = {"m": np.random.default_rng(0).random((len(x), JOINTS))}
    most = faithfulness_curves(model, _data(x, labels), maps, imputer, spec, draws=3)
    fresh = faithfulness_curves(model, _data(x, labels), maps, imputer, spec, order="least", draws=3)
    shared = faithfulness_curves(
        model,
        _data(x, labels),
        maps,
        imputer,
        spec,
        order="least",
        draws=3,
        random_probability=most.probability["random"],
    )
    pd.testing.assert_frame_equal(shared.curves, fresh.curves)
    pd.testing.assert_frame_equal(shared.areas, fresh.areas)
    with pytest.raises(ValueError, match="expected 4 draws"):
        faithfulness_curves(
            model,
            _data(x, labels),
            maps,
            imputer,
            spec,
            draws=4,
            random_probability=most.probability["random"],
        )


def test_explicit_steps_give_the_same_points_as_the_full_curve() -> None:
    model = Linear()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 2, 2, FRAMES, JOINTS, 1)).astype(np.float32)
    imputer = Imputer(rng.normal(size=(3, 2, 2, FRAMES, JOINTS, 1)), CHAIN, Imputation("linear"))
    order = np.argsort(rng.random((4, JOINTS)), axis=1)
    full = curve_logits(model, x, order, imputer, CurveSpec("deletion", JOINTS))
    grid = curve_logits(model, x, order, imputer, CurveSpec("deletion", 1, steps=(0, 2, 5, 9)))
    np.testing.assert_allclose(grid, full[[0, 2, 5]], rtol=1e-6)  # 9 > 6 cells is dropped
    for bad in ((1, 2), (0, 2, 2), ()):
        with pytest.raises(ValueError, match="steps"):
            CurveSpec(steps=bad)


@pytest.mark.parametrize("shape", ["keypoints", "cells"])
def test_linear_imputation_equals_a_dense_solve_of_the_grid_equations(shape: str) -> None:
    """Both solvers (whole key points: Kronecker/Sylvester; any cells: sparse LU) against numpy's dense solve."""
    rng = np.random.default_rng(2)
    bg = rng.normal(size=(3, 2, 1, FRAMES, JOINTS, 2))
    x = rng.normal(size=(2, 2, 1, FRAMES, JOINTS, 2)).astype(np.float32)
    mask = np.zeros((2, FRAMES, JOINTS), bool)
    if shape == "keypoints":
        mask[0, :, [1, 2, 5]] = True
        mask[1, :, [0]] = True
    else:
        mask[0, 3:7, [1, 2]] = True
        mask[1, :, 4] = True
        mask[1, 0, 0] = True
    a = 0.2
    out = Imputer(bg, CHAIN, Imputation("linear", noise=0.0, anchor=a)).impute(x, mask, rng)
    # independent dense system: cell (t, v) neighbours are chain joints v +- 1 and frames t +- 1
    cells = FRAMES * JOINTS
    lap = np.zeros((cells, cells))
    for t in range(FRAMES):
        for v in range(JOINTS):
            for tt, vv in ((t, v - 1), (t, v + 1), (t - 1, v), (t + 1, v)):
                if 0 <= tt < FRAMES and 0 <= vv < JOINTS:
                    lap[t * JOINTS + v, tt * JOINTS + vv] = -1.0
                    lap[t * JOINTS + v, t * JOINTS + v] += 1.0
    mu = bg.mean(axis=0)
    for i in range(2):
        u = np.flatnonzero(mask[i].reshape(-1))
        k = np.flatnonzero(~mask[i].reshape(-1))
        for grp in range(2):
            for person in range(2):
                xi = x[i, grp, 0, :, :, person].reshape(-1).astype(np.float64)
                m = mu[grp, 0, :, :, person].reshape(-1)
                sol = np.linalg.solve(
                    lap[np.ix_(u, u)] + a * np.eye(len(u)), a * m[u] - lap[np.ix_(u, k)] @ xi[k]
                )
                np.testing.assert_allclose(
                    out[i, grp, 0, :, :, person].reshape(-1)[u], sol, rtol=1e-4, atol=1e-5
                )

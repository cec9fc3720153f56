"""Tests of the model-reliance oracle (harxai.evaluate.oracle) with hand-made models."""

from __future__ import annotations

import numpy as np
import pytest

from harxai.evaluate.oracle import (
    MIN_ACCURACY,
    PLANTED_MARGIN,
    isolate,
    model_reliance_oracle,
    transplant,
    verified_truth,
)

GROUPS = ("joint", "velocity", "bone", "acceleration")
JOINTS = 10
NAMES = [f"j{i}" for i in range(JOINTS)]
CLASSES = ["a", "b", "c"]


def make_features(labels: np.ndarray, moving: dict[int, int], seed: int = 0) -> np.ndarray:
    """(sample, group, channel, frame, joint, person): joint ``moving[label]`` oscillates, and a
    distractor (another random joint of 6..9) oscillates as strongly in every sample."""
    rng = np.random.default_rng(seed)
    n, frames = len(labels), 40
    t = np.arange(frames)
    x = rng.normal(scale=0.01, size=(n, 2, frames, JOINTS)) + np.arange(JOINTS)[None, None, None, :]
    for i, label in enumerate(labels):
        for j in (moving[int(label)], int(rng.integers(6, 10))):
            x[i, :, :, j] += 0.5 * np.sin(0.4 * t + rng.uniform(0, 6))[None, :]
    vel = np.concatenate([np.diff(x, axis=2), np.zeros((n, 2, 1, JOINTS))], axis=2)
    acc = np.concatenate([np.diff(vel, axis=2), np.zeros((n, 2, 1, JOINTS))], axis=2)
    feats = np.stack([x, vel, x - x[..., :1], acc], axis=1)[..., None]
    return feats.astype(np.float32)


def energy(features: np.ndarray, joint: int) -> np.ndarray:
    """Mean absolute velocity of one joint (the velocity group)."""
    return np.abs(features[:, 1, :, :, joint, 0]).mean(axis=(1, 2))


def two_detectors(features: np.ndarray) -> np.ndarray:
    """Class 1 when joint 3 moves, class 0 when joint 5 does (the faster one), else class 2
    ("neither": a third class that has no samples here)."""
    e3, e5 = energy(features, 3), energy(features, 5)
    return np.where(np.maximum(e3, e5) < 0.05, 2, (e3 > e5).astype(np.int64))


def by_elimination(features: np.ndarray) -> np.ndarray:
    """Class 0 when joint 5 moves, else class 1: class 1 is never read from its own joint."""
    return (energy(features, 5) < 0.05).astype(np.int64)


LABELS = np.repeat([0, 1], 20)
TRUTH = {0: (5,), 1: (3,)}


def test_isolate_freezes_positions_and_zeroes_motion() -> None:
    x = make_features(LABELS, {0: 5, 1: 3})
    x[0, :, :, :5, 2, 0] = 0.0  # joint 2 of sample 0 absent in its first 5 frames
    out = isolate(x, [2, 3], GROUPS)
    untouched = [j for j in range(JOINTS) if j not in (2, 3)]
    np.testing.assert_array_equal(out[..., untouched, :], x[..., untouched, :])
    for g in (1, 3):  # velocity, acceleration
        assert not out[:, g, :, :, [2, 3]].any()
    for g in (0, 2):  # positions: the mean over present frames, constant in time
        np.testing.assert_allclose(
            out[1:, g, :, :, 3, 0], x[1:, g, :, :, 3, 0].mean(axis=2, keepdims=True).repeat(40, 2), rtol=1e-5
        )
        present = x[0, g, :, 5:, 2, 0]
        np.testing.assert_allclose(
            out[0, g, :, 5:, 2, 0], present.mean(axis=1, keepdims=True).repeat(35, 1), rtol=1e-5
        )
        assert not out[0, g, :, :5, 2, 0].any()  # absent frames stay absent
    assert out is not x
    assert np.shares_memory(out, x) is False


def test_isolate_checks_the_groups() -> None:
    with pytest.raises(ValueError, match="groups"):
        isolate(np.zeros((2, 3, 2, 4, 5, 1)), [0], GROUPS)


@pytest.mark.parametrize("mode", ["transplant", "freeze"])
def test_a_model_reading_each_class_from_its_joints_is_verified(mode: str) -> None:
    x = make_features(LABELS, {0: 5, 1: 3})
    table = model_reliance_oracle(two_detectors, x, LABELS, TRUTH, GROUPS, CLASSES, NAMES, seed=1, mode=mode)
    assert table["verified"].tolist() == [True, True]
    assert (table["accuracy"] == 1.0).all()
    assert (table["accuracy_planted"] <= 1 / 3 + PLANTED_MARGIN).all()
    assert (table["accuracy_random_mean"] >= 0.8).all()
    assert table["planted"].tolist() == ["j5", "j3"]


@pytest.mark.parametrize("mode", ["transplant", "freeze"])
def test_a_class_recognised_by_elimination_is_unverified(mode: str) -> None:
    x = make_features(LABELS, {0: 5, 1: 3})
    table = model_reliance_oracle(
        by_elimination, x, LABELS, TRUTH, GROUPS, ["a", "b"], NAMES, seed=1, mode=mode
    )
    row = table.set_index("class").loc["b"]
    assert row["accuracy"] == 1.0
    assert row["accuracy_planted"] == 1.0
    assert not row["verified"]
    assert "planted isolated" in row["reason"]
    assert bool(table.set_index("class").loc["a", "verified"])
    assert verified_truth(TRUTH, table) == {0: (5,)}


def test_a_model_reading_other_joints_is_unverified() -> None:
    """Ground truth names joint 4 for class 1, the model reads joint 3: isolating 4 does nothing."""
    x = make_features(LABELS, {0: 5, 1: 3})
    table = model_reliance_oracle(two_detectors, x, LABELS, {0: (5,), 1: (4,)}, GROUPS, CLASSES, NAMES)
    assert table["verified"].tolist() == [True, False]


def test_random_isolation_that_breaks_the_class_is_unverified() -> None:
    """A model that needs every joint: isolating any joint breaks it, so planted ones are not special."""

    def fragile(features: np.ndarray) -> np.ndarray:
        still = np.stack([energy(features, j) < 1e-4 for j in range(JOINTS)], axis=1).any(axis=1)
        return np.where(still, 1 - two_detectors(features), two_detectors(features))

    x = make_features(LABELS, {0: 5, 1: 3})
    table = model_reliance_oracle(fragile, x, LABELS, TRUTH, GROUPS, CLASSES, NAMES, mode="freeze")
    assert not table["verified"].any()
    assert all("random isolated" in r for r in table["reason"])


def test_a_class_the_model_does_not_recognise_is_unverified() -> None:
    x = make_features(LABELS, {0: 5, 1: 3})
    table = model_reliance_oracle(
        lambda f: np.zeros(len(f), dtype=np.int64), x, LABELS, TRUTH, GROUPS, ["a", "b"], NAMES
    )
    row = table.set_index("class").loc["b"]
    assert row["accuracy"] == 0.0 < MIN_ACCURACY
    assert not row["verified"]


def test_a_class_without_samples_is_unverified() -> None:
    x = make_features(LABELS[:20], {0: 5, 1: 3})
    table = model_reliance_oracle(two_detectors, x, LABELS[:20], TRUTH, GROUPS, CLASSES, NAMES).set_index(
        "class"
    )
    assert table.loc["b", "reason"] == "no samples"
    assert table.loc["a", "reason"] == "no samples of other classes to transplant from"
    with pytest.raises(ValueError, match="mode"):
        model_reliance_oracle(two_detectors, x, LABELS[:20], TRUTH, GROUPS, CLASSES, NAMES, mode="zero")


def test_transplant_takes_the_joints_from_donors() -> None:
    x = make_features(LABELS[:20], {0: 5, 1: 3})
    donors = make_features(LABELS[20:], {0: 5, 1: 3}, seed=1)
    out = transplant(x, [3, 4], donors, np.random.default_rng(0))
    others = [j for j in range(JOINTS) if j not in (3, 4)]
    np.testing.assert_array_equal(out[..., others, :], x[..., others, :])
    for i in range(len(x)):  # every sample's joints 3 and 4 come together from one donor
        match = [
            d for d in range(len(donors)) if np.array_equal(out[i][..., [3, 4], :], donors[d][..., [3, 4], :])
        ]
        assert match
    with pytest.raises(ValueError, match="donor"):
        transplant(x, [3], donors[:0], np.random.default_rng(0))

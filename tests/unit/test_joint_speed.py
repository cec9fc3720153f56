"""joint_speed: each key point's input speed (harxai.explain.baselines)."""

from __future__ import annotations

import numpy as np
import pytest

from harxai.explain.baselines import joint_speed


def test_motion_energy_is_the_speed_per_frame() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 4, 2)) + 5.0
    out = joint_speed(x)
    assert out.shape == (2, 6, 4)
    assert out.dtype == np.float32
    for s in range(2):
        for t in range(5):
            for j in range(4):
                want = sum(np.linalg.norm(x[s, :, t + 1, j, p] - x[s, :, t, j, p]) for p in range(2))
                assert out[s, t, j] == pytest.approx(want, rel=1e-5)
    np.testing.assert_array_equal(out[:, 5], out[:, 4])


def test_absent_persons_and_padding_add_no_motion() -> None:
    x = np.ones((1, 2, 5, 3, 2))
    x[0, :, 2, 1, 0] = 3.0  # joint 1 of person 0 jumps at frame 2
    x[..., 1] = 0.0  # person 1 absent everywhere
    x[0, :, 4, :, 0] = 0.0  # zero padding in the last frame
    out = joint_speed(x)
    np.testing.assert_allclose(out[0, :, 1], [0.0, np.sqrt(8), np.sqrt(8), 0.0, 0.0], rtol=1e-6)
    assert not out[0, :, [0, 2]].any()  # no jump into the padding


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 4, 5)), np.full((1, 2, 3, 4, 1), np.nan)])
def test_bad_input_is_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="joint_speed"):
        joint_speed(bad)

"""Shared fixtures: fixed seeds and the real sample files in ../shared/data/real."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def real_data_root() -> Path:
    """Folder of the real sample files (never copied into this repository)."""
    env = os.environ.get("HARXAI_REAL_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "real"


@pytest.fixture
def real_data() -> Path:
    """Path of ../shared/data/real; skips the test when the folder is absent."""
    root = real_data_root()
    if not root.is_dir():
        pytest.skip(f"real sample data not available at {root}")
    return root


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(1234)
    np.random.seed(1234)  # noqa: NPY002 - fixes the legacy global state third-party code may use
    torch.manual_seed(1234)

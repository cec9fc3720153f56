"""Shared figure helpers: an Agg-backed figure and atomic saving."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_path

DPI = 150
FORMATS = ("png", "svg")


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas with constrained layout (no pyplot, no global backend)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write a figure atomically as PNG or SVG (by suffix)."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{target}: figures are written as {' or '.join(FORMATS)}, not {fmt!r}")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=DPI)
    return target

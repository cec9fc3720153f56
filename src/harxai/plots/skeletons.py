"""Importance on the skeleton (seed paper Fig. 2/3): marker size and colour per key point."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..skeletons import SkeletonLayout
from .style import new_figure, save_figure

SIGNED_CMAP = "RdBu_r"
UNSIGNED_CMAP = "viridis"
MAX_MARKER = 160.0
MIN_MARKER = 6.0


@dataclass(frozen=True)
class SkeletonPanel:
    """One skeleton drawing.

    Attributes
    ----------
    title
        Panel title (frames or window start).
    pose
        Key-point positions (x, y), shape (joint, 2).
    values
        Method label -> importance per key point, shape (joint,).
    """

    title: str
    pose: np.ndarray
    values: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class SkeletonBlock:
    """The panels of one sample or recording (one row per method, one column per panel)."""

    title: str
    panels: tuple[SkeletonPanel, ...]


def _scale(method: str, block: SkeletonBlock) -> float:
    values = np.concatenate([np.abs(p.values[method]) for p in block.panels])
    top = float(values.max()) if values.size else 0.0
    return top if top > 0 else 1.0


def upright(pose: np.ndarray, layout: SkeletonLayout) -> np.ndarray:
    """Flip y when the trunk top lies below the trunk bottom (image coordinates, y down).

    Parameters
    ----------
    pose
        Key-point positions (x, y), shape (joint, 2).
    """
    top = pose[list(layout.trunk_top), 1].mean()
    bottom = pose[list(layout.trunk_bottom), 1].mean()
    if top < bottom:
        out: np.ndarray = pose * np.array([1.0, -1.0])
        return out
    return pose


def _draw(
    ax: Axes,
    layout: SkeletonLayout,
    pose: np.ndarray,
    values: np.ndarray,
    norm: Normalize,
    cmap: str,
    top: float,
) -> None:
    for a, b in layout.edges:
        ax.plot(pose[[a, b], 0], pose[[a, b], 1], color="0.6", linewidth=1.0, zorder=1)
    sizes = MIN_MARKER + (MAX_MARKER - MIN_MARKER) * np.clip(np.abs(values) / top, 0.0, 1.0)
    ax.scatter(
        pose[:, 0],
        pose[:, 1],
        s=sizes,
        c=values,
        cmap=cmap,
        norm=norm,
        edgecolors="0.2",
        linewidths=0.4,
        zorder=2,
    )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_skeletons(
    blocks: Sequence[SkeletonBlock],
    layout: SkeletonLayout,
    output: str | os.PathLike[str],
    signed: Mapping[str, bool] | None = None,
) -> Figure:
    """Draw every block: one row per method, one column per panel, a colour bar per row.

    Marker size grows with the magnitude of a key point's importance and its colour gives
    the value; each row's scale is the maximum magnitude over that row. Signed methods (SHAP)
    use a diverging map centred at 0, the others (GradCAM, non-negative) a sequential one.
    Poses are drawn upright (trunk top above trunk bottom, see :func:`upright`).

    Parameters
    ----------
    blocks
        From :mod:`harxai.evaluate.overlay`.
    layout
        Skeleton layout (bones).
    signed
        Method label -> whether its values are signed (default: unsigned).
    """
    if not blocks:
        raise ValueError(f"{output}: no samples to draw")
    methods = list(blocks[0].panels[0].values)
    columns = max(len(b.panels) for b in blocks)
    rows = len(blocks) * len(methods)
    fig = new_figure(2.3 * columns + 1.4, 2.5 * rows)
    axes = fig.subplots(rows, columns, squeeze=False)
    for bi, block in enumerate(blocks):
        for mi, method in enumerate(methods):
            r = bi * len(methods) + mi
            top = _scale(method, block)
            is_signed = bool((signed or {}).get(method, False))
            norm = Normalize(-top, top) if is_signed else Normalize(0.0, top)
            cmap = SIGNED_CMAP if is_signed else UNSIGNED_CMAP
            for c in range(columns):
                ax = axes[r, c]
                if c >= len(block.panels):
                    ax.set_axis_off()
                    continue
                panel = block.panels[c]
                _draw(ax, layout, upright(panel.pose, layout), panel.values[method], norm, cmap, top)
                if mi == 0:
                    ax.set_title(f"{block.title}\n{panel.title}" if c == 0 else panel.title, fontsize="small")
            axes[r, 0].set_ylabel(method, fontsize="small")
            bar = fig.colorbar(
                ScalarMappable(norm=norm, cmap=colormaps[cmap]), ax=list(axes[r, :]), shrink=0.8
            )
            bar.set_label("importance", fontsize="small")
    save_figure(fig, output)
    return fig

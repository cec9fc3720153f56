"""Box plots of per-sample key-point importance per class and method (seed paper Fig. 6/7)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from ..methods import method_label
from .style import new_figure, save_figure


def scaled_values(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The members' importance divided by its maximum magnitude, shape (sample, joint).

    Parameters
    ----------
    values
        Importance, shape (sample, joint).
    members
        Boolean mask of the samples of one group, shape (sample,).
    """
    v = np.asarray(values, dtype=np.float64)[members]
    scale = np.abs(v).max() if v.size else 0.0
    out: np.ndarray = v / scale if scale > 0 else v
    return out


def plot_rankings(
    importance: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    joint_names: Sequence[str],
    output: str | os.PathLike[str],
    shap_absolute: bool = False,
) -> Figure:
    """One panel per class: box plots (median, IQR, whiskers at 1.5 IQR, outliers) per key point and method.

    Key points are sorted by the median of the first method (SHAP). So that methods with
    different units share an axis, each method's values are divided by their maximum
    absolute value within the class (a positive scaling, which keeps every ranking).

    Parameters
    ----------
    importance
        Method -> per-sample importance, shape (sample, joint); the first method sorts.
    labels
        Group (true label) per sample, shape (sample,).

    Returns
    -------
    matplotlib.figure.Figure
        The figure written to ``output``.
    """
    groups = np.unique(labels)
    methods = list(importance)
    width = 0.8 / len(methods)
    fig = new_figure(max(10.0, 0.2 * len(joint_names) * len(methods) + 2.0), 4.2 * len(groups) + 0.6)
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    colours = sns.color_palette("colorblind", len(methods))
    for ax, label in zip(axes, groups, strict=True):
        members = labels == label
        medians = np.median(np.asarray(importance[methods[0]], dtype=np.float64)[members], axis=0)
        order = np.argsort(-medians, kind="stable")
        for m, method in enumerate(methods):
            values = scaled_values(importance[method], members)[:, order]
            positions = np.arange(len(order)) + (m - (len(methods) - 1) / 2) * width
            parts = ax.boxplot(
                list(values.T),
                positions=positions,
                widths=width * 0.9,
                patch_artist=True,
                manage_ticks=False,
                medianprops={"color": "black", "linewidth": 1.0},
                flierprops={
                    "marker": "o",
                    "markersize": 2,
                    "markerfacecolor": colours[m],
                    "markeredgecolor": "none",
                },
            )
            for box in parts["boxes"]:
                box.set_facecolor(colours[m])
                box.set_linewidth(0.6)
            parts["boxes"][0].set_label(method_label(method))
        ax.axhline(0.0, color="0.5", linewidth=0.6)
        ax.set_xticks(np.arange(len(order)), [joint_names[j] for j in order], rotation=90)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_title(f"{class_names[int(label)]} (n = {int(members.sum())} samples)")
        ax.set_xlabel(f"key point (sorted by the median of {method_label(methods[0])})")
        kind = "|SHAP|" if shap_absolute else "SHAP"
        ax.set_ylabel(f"importance / max |importance|\n({kind}; GradCAM)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=len(methods), title="method")
    save_figure(fig, output)
    return fig

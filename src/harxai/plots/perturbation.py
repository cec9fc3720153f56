"""Perturbation curves (seed paper Fig. 4/5): metric against the number of perturbed key points."""

from __future__ import annotations

import os

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..methods import method_label
from .style import new_figure, save_figure

METRIC_LABELS = {
    "accuracy": "top-1 accuracy",
    "auc": "ROC AUC",
    "true_class_probability": "mean P(true class)",
}
SELECTION_LABELS = {
    "most": "most important key points perturbed",
    "least": "least important key points perturbed",
}


def plot_perturbation(
    table: pd.DataFrame, output: str | os.PathLike[str], title: str = "", draws: int = 0
) -> Figure:
    """Grid of curves: one row per selection (most, least), one column per panel (class or level).

    Parameters
    ----------
    table
        Long table of :func:`harxai.evaluate.curves.curves_table` rows (method, selection, k,
        panel, metric, value, ci_low, ci_high), the random control (method ``random``) included.
    output
        PNG or SVG file.
    title
        Figure title (the dataset).
    draws
        Number of random draws (for the legend).
    """
    random = table[table["method"] == "random"]
    ranked = table[table["method"] != "random"]
    selections = [s for s in SELECTION_LABELS if s in set(ranked["selection"])]
    panels = list(dict.fromkeys(table["panel"]))
    methods = list(dict.fromkeys(ranked["method"]))
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    fig = new_figure(3.4 * len(panels) + 1.5, 3.0 * max(1, len(selections)))
    axes = fig.subplots(max(1, len(selections)), len(panels), squeeze=False, sharex=True)
    for r, selection in enumerate(selections):
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ref = random[random["panel"] == panel].sort_values("k")
            ax.fill_between(
                ref["k"], ref["ci_low"], ref["ci_high"], color="0.8", label="random: 95 % CI of the mean"
            )
            ax.plot(
                ref["k"], ref["value"], color="0.2", linestyle="--", label=f"random: mean of {draws} draws"
            )
            for method in methods:
                part = ranked[
                    (ranked["method"] == method)
                    & (ranked["selection"] == selection)
                    & (ranked["panel"] == panel)
                ]
                part = part.sort_values("k")
                ax.plot(
                    part["k"],
                    part["value"],
                    marker="o",
                    markersize=3,
                    color=colours[method],
                    label=method_label(method),
                )
            metric = str(table.loc[table["panel"] == panel, "metric"].iloc[0])
            ax.set_title(f"{panel}\n{SELECTION_LABELS[selection]}", fontsize="medium")
            ax.set_xlabel("perturbed key points k")
            ax.set_ylabel(METRIC_LABELS.get(metric, metric))
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize="small")
    if title:
        fig.suptitle(title)
    save_figure(fig, output)
    return fig

"""Faithfulness curves (deletion, insertion, time deletion) and the sanity check's cascade."""

from __future__ import annotations

import os

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .perturbation import METRIC_LABELS
from .style import new_figure, save_figure

FAMILY_LABELS = {
    ("deletion", "keypoint", "most"): "deletion, most important key points first",
    ("deletion", "keypoint", "least"): "deletion, least important key points first",
    ("insertion", "keypoint", "most"): "insertion, most important key points first",
    ("deletion", "time", "most"): "deletion of joint x time segments, most important first",
}


def plot_faithfulness(
    curves: pd.DataFrame, output: str | os.PathLike[str], panel: str = "confidence", title: str = ""
) -> Figure:
    """One row per imputation, one column per curve family; each method's curve and the random band.

    Parameters
    ----------
    curves
        Long table with the columns of :data:`harxai.evaluate.faithfulness.CURVE_COLUMNS` plus
        ``imputation``, ``mode`` and ``cells`` (the faithfulness job's ``faithfulness_curves.csv``).
    panel
        The panel drawn (default the mean true-class probability).
    """
    part = curves[curves["panel"] == panel]
    imputations = list(dict.fromkeys(part["imputation"]))
    families = [f for f in FAMILY_LABELS if ((part["mode"] == f[0]) & (part["cells"] == f[1])).any()]
    methods = [m for m in dict.fromkeys(part["method"]) if m != "random"]
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    fig = new_figure(3.3 * max(1, len(families)) + 1.8, 2.8 * max(1, len(imputations)))
    axes = fig.subplots(max(1, len(imputations)), max(1, len(families)), squeeze=False)
    for r, imputation in enumerate(imputations):
        for c, (mode, cells, order) in enumerate(families):
            ax = axes[r, c]
            fam = part[(part["imputation"] == imputation) & (part["mode"] == mode) & (part["cells"] == cells)]
            rand = fam[fam["method"] == "random"]
            rand = rand[rand["selection"] == "random"].drop_duplicates("k").sort_values("k")
            ax.fill_between(rand["k"], rand["ci_low"], rand["ci_high"], color="0.8", label="random: 95 % CI")
            ax.plot(rand["k"], rand["value"], color="0.2", linestyle="--", label="random: mean of draws")
            for method in methods:
                m = fam[(fam["method"] == method) & (fam["selection"] == order)].sort_values("k")
                if len(m):
                    ax.plot(
                        m["k"], m["value"], marker="o", markersize=2.5, color=colours[method], label=method
                    )
            metric = str(part["metric"].iloc[0]) if len(part) else ""
            ax.set_title(f"{imputation} imputation\n{FAMILY_LABELS[(mode, cells, order)]}", fontsize="small")
            ax.set_xlabel("perturbed cells k")
            ax.set_ylabel(METRIC_LABELS.get(metric, metric))
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize="small")
    if title:
        fig.suptitle(title)
    save_figure(fig, output)
    return fig


def plot_sanity(
    table: pd.DataFrame, output: str | os.PathLike[str], fail_rho: float, title: str = ""
) -> Figure:
    """Spearman rho with the trained model's map per randomisation stage, one line per method.

    ``table`` has :data:`harxai.evaluate.sanity.SANITY_COLUMNS`; the dashed line is the fail
    threshold (rho above it once the whole network is random fails).
    """
    methods = list(dict.fromkeys(table["method"]))
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    fig = new_figure(7.5, 3.6)
    ax = fig.add_subplot()
    for method in methods:
        part = table[table["method"] == method].sort_values("stage_index")
        ax.errorbar(
            part["stage_index"],
            part["rho"],
            yerr=[
                part["rho"] - part["ci_low"].fillna(part["rho"]),
                part["ci_high"].fillna(part["rho"]) - part["rho"],
            ],
            marker="o",
            markersize=3,
            capsize=2,
            color=colours[method],
            label=method,
        )
    ax.axhline(fail_rho, color="0.3", linestyle="--", linewidth=1, label=f"fail above {fail_rho}")
    stages = table.drop_duplicates("stage_index").sort_values("stage_index")
    ax.set_xticks(stages["stage_index"], [str(i) for i in stages["stage_index"]])
    ax.set_xlabel("randomised stages (0 = trained; classifier first, input last)")
    ax.set_ylabel("Spearman rho with the trained map")
    ax.set_ylim(-1.05, 1.05)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right center", fontsize="small")
    if title:
        ax.set_title(title)
    save_figure(fig, output)
    return fig

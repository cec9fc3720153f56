"""Figures of the evaluation stage (matplotlib with the Agg canvas, seaborn colour palettes).

Every function draws on its own :class:`matplotlib.figure.Figure` (no pyplot state) and
writes the file atomically; the format follows the file suffix (PNG or SVG).
"""

from .faithfulness import plot_faithfulness, plot_sanity
from .perturbation import plot_perturbation
from .rankings import plot_rankings
from .skeletons import plot_skeletons
from .style import save_figure

__all__ = [
    "plot_faithfulness",
    "plot_perturbation",
    "plot_rankings",
    "plot_sanity",
    "plot_skeletons",
    "save_figure",
]

"""Evaluation of the explanations: rankings, perturbation of E, layer correlation, runtime, ground truth.

Modules
-------
sources
    Method names (``shap``, ``gradcam:<layer>``) and reading the explanation files.
ranking
    Key-point rankings per class (seed Fig. 6/7).
perturbation, curves, scoring
    Perturbation of the edge-importance matrices guided by the rankings (seed Fig. 4/5).
correlation
    Spearman correlation between GradCAM layers (seed Table 1).
runtime
    Runtime of the explainers from benchmark files and in-process timings (seed Table 2).
ground_truth
    Rankings against the planted joints of the synthetic datasets.
overlay
    Importance drawn on the skeleton (seed Fig. 2/3).
"""

from .correlation import correlate_layers, joint_profile, normalize_maps, spearman_per_sample
from .curves import Curves, curves_table, read_curves, summarize_curves
from .ground_truth import precision_at_k, ranking_auc, read_ground_truth, score_ground_truth
from .perturbation import (
    EdgePerturbation,
    PerturbationSpec,
    perturb_edge_importance,
    random_curves,
    random_keypoints,
    selection_curve,
    top_keypoints,
)
from .ranking import rank_keypoints
from .runtime import read_benchmark, summarize_runtime
from .sources import METHOD_SHAP, gradcam_method, method_layer

__all__ = [
    "METHOD_SHAP",
    "Curves",
    "EdgePerturbation",
    "PerturbationSpec",
    "correlate_layers",
    "curves_table",
    "gradcam_method",
    "joint_profile",
    "method_layer",
    "normalize_maps",
    "perturb_edge_importance",
    "precision_at_k",
    "random_curves",
    "random_keypoints",
    "rank_keypoints",
    "ranking_auc",
    "read_benchmark",
    "read_curves",
    "read_ground_truth",
    "score_ground_truth",
    "selection_curve",
    "spearman_per_sample",
    "summarize_curves",
    "summarize_runtime",
    "top_keypoints",
]

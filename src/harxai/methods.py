"""The method vocabulary: the names of the explanation methods the evaluation compares.

A method is ``shap``, ``gradcam:<layer>`` (the layer is its ``named_modules()`` path, e.g.
``gradcam:main.1.att``) or one of the trivial baselines every real method must beat
(:data:`BASELINE_METHODS`: ``motion_energy``, ``random``, ``input_x_gradient``, computed by
:mod:`harxai.explain.baselines`); ``shap_abs`` names SHAP ranked by absolute values in
``scores.h5`` and the ground-truth tables (the verdict's ``shap`` is ``shap_abs`` when
``evaluate.shap_absolute`` is set). One spelling everywhere: the same string is the ``method``
column of every table (rankings, perturbation, ground truth, faithfulness, sanity, robustness,
verdict), the key of the method axis of ``scores.h5`` and the ``{method}`` wildcard of the
perturbation files (``perturbation/gradcam:main.1.att_most.h5``). Rules and package both
build the names with these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

METHOD_SHAP = "shap"
METHOD_SHAP_ABS = "shap_abs"  # SHAP ranked by absolute values (ground-truth table)
GRADCAM_PREFIX = "gradcam:"
METHOD_MOTION_ENERGY = "motion_energy"
METHOD_RANDOM = "random"
METHOD_INPUT_X_GRADIENT = "input_x_gradient"
BASELINE_METHODS = (METHOD_MOTION_ENERGY, METHOD_RANDOM, METHOD_INPUT_X_GRADIENT)
"""Trivial baselines, in table order."""
_BASELINE_LABELS = {
    METHOD_MOTION_ENERGY: "motion energy",
    METHOD_RANDOM: "random",
    METHOD_INPUT_X_GRADIENT: "input x gradient",
}


def gradcam_method(layer: str) -> str:
    """Method name of a GradCAM layer (``gradcam:<layer>``)."""
    return f"{GRADCAM_PREFIX}{layer}"


def method_layer(method: str) -> str | None:
    """GradCAM layer of a method name, or None for SHAP (signed or absolute) and the baselines."""
    if method in (METHOD_SHAP, METHOD_SHAP_ABS, *BASELINE_METHODS):
        return None
    if method.startswith(GRADCAM_PREFIX) and len(method) > len(GRADCAM_PREFIX):
        return method[len(GRADCAM_PREFIX) :]
    raise ValueError(
        f"unknown method {method!r}: expected 'shap', 'gradcam:<layer>' or one of {', '.join(BASELINE_METHODS)}"
    )


def is_baseline(method: str) -> bool:
    """Whether ``method`` is one of the trivial baselines."""
    return method in BASELINE_METHODS


def method_label(method: str) -> str:
    """Short human-readable label of a method for figures and tables."""
    if method == METHOD_SHAP_ABS:
        return "SHAP (absolute)"
    if method in _BASELINE_LABELS:
        return _BASELINE_LABELS[method]
    layer = method_layer(method)
    return "SHAP" if layer is None else f"GradCAM {layer}"


def methods_of(layers: Sequence[str]) -> list[str]:
    """``shap`` followed by the GradCAM methods of ``layers``."""
    return [METHOD_SHAP, *(gradcam_method(layer) for layer in layers)]


def shap_method(absolute: bool) -> str:
    """The SHAP method ranked by signed sums, or by absolute values when ``absolute``."""
    return METHOD_SHAP_ABS if absolute else METHOD_SHAP


def verdict_methods(layers: Sequence[str]) -> list[str]:
    """The verdict's methods in table order: ``shap``, ``gradcam:<layer>`` of ``layers``, the baselines."""
    return [METHOD_SHAP, *(gradcam_method(layer) for layer in layers), *BASELINE_METHODS]

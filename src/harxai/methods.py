"""The method vocabulary: the names of the explanation methods the evaluation compares.

A method is ``shap`` or ``gradcam-<layer>`` (the layer is its ``named_modules()`` path, e.g.
``gradcam-main.1.att``); ``shap_abs`` names SHAP ranked by absolute values in the
ground-truth table. The names are filename-safe: the same string is the ``{method}``
wildcard of the perturbation files, the ``method`` column of the tables and the key of the
method axis of ``scores.h5``. Rules and package both build them with these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

METHOD_SHAP = "shap"
METHOD_SHAP_ABS = "shap_abs"  # SHAP ranked by absolute values (ground-truth table)
GRADCAM_PREFIX = "gradcam-"


def gradcam_method(layer: str) -> str:
    """Method name of a GradCAM layer (``gradcam-<layer>``)."""
    return f"{GRADCAM_PREFIX}{layer}"


def method_layer(method: str) -> str | None:
    """GradCAM layer of a method name, or None for SHAP (signed or absolute)."""
    if method in (METHOD_SHAP, METHOD_SHAP_ABS):
        return None
    if method.startswith(GRADCAM_PREFIX) and len(method) > len(GRADCAM_PREFIX):
        return method[len(GRADCAM_PREFIX) :]
    raise ValueError(f"unknown method {method!r}: expected 'shap' or 'gradcam-<layer>'")


def method_label(method: str) -> str:
    """Short human-readable label of a method for figures and tables."""
    if method == METHOD_SHAP_ABS:
        return "SHAP (absolute)"
    layer = method_layer(method)
    return "SHAP" if layer is None else f"GradCAM {layer}"


def methods_of(layers: Sequence[str]) -> list[str]:
    """``shap`` followed by the GradCAM methods of ``layers``."""
    return [METHOD_SHAP, *(gradcam_method(layer) for layer in layers)]


def shap_method(absolute: bool) -> str:
    """The SHAP method ranked by signed sums, or by absolute values when ``absolute``."""
    return METHOD_SHAP_ABS if absolute else METHOD_SHAP

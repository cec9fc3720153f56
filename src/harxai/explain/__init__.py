"""Explanations of skeleton HAR models: SHAP values of one logit per sample."""

from .cam import gradcam
from .deeplift import UnsupportedOperationError
from .shap_api import IncompleteAttributionError, ShapResult, shap_values

__all__ = ["IncompleteAttributionError", "ShapResult", "UnsupportedOperationError", "gradcam", "shap_values"]

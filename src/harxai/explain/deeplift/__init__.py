"""harxai's ``fast`` SHAP engine: DeepLIFT rescale / DeepSHAP at the level of torch operations.

See README.md in this folder for the design, the rules and how to add one.
"""

from .engine import DEFAULT_BATCH_SIZE, auto_batch_size, deeplift_shap, forward_rows, frozen_eval
from .functions import UnsupportedOperationError
from .rules import RULES, Rule, classify, rule_for

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "RULES",
    "Rule",
    "UnsupportedOperationError",
    "auto_batch_size",
    "classify",
    "deeplift_shap",
    "forward_rows",
    "frozen_eval",
    "rule_for",
]

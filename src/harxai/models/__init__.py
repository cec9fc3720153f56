"""Multi-branch skeleton GCN: layers, presets, checkpoints and training.

``model(joint, velocity, bone, acceleration)`` takes four tensors (sample, channel, frame,
joint, person) and returns logits (sample, class). See :mod:`harxai.models.network` for
the stable ``named_modules()`` paths.
"""

from .checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from .network import MultiBranchGCN, build_model, edge_importance_parameters
from .presets import PRESETS, BlockSpec, Preset, make_architecture

__all__ = [
    "PRESETS",
    "BlockSpec",
    "CheckpointError",
    "MultiBranchGCN",
    "Preset",
    "build_model",
    "edge_importance_parameters",
    "load_model",
    "make_architecture",
    "read_checkpoint",
    "save_checkpoint",
]

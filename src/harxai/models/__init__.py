"""Multi-branch skeleton GCN: layers, presets, checkpoints and training.

``model(joint, velocity, bone, acceleration)`` takes four tensors (sample, channel, frame,
joint, person) and returns logits (sample, class). See :mod:`harxai.models.network` for
the stable ``named_modules()`` paths. A user's own network is wrapped by
:class:`harxai.models.external.ExternalModel` (see ``docs/external-models.md``).
"""

from .checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from .external import ExternalModel, ExternalModelError, build_external, read_external_state_dict
from .network import MultiBranchGCN, build_model, edge_importance_parameters
from .presets import PRESETS, BlockSpec, Preset, make_architecture

__all__ = [
    "PRESETS",
    "BlockSpec",
    "CheckpointError",
    "ExternalModel",
    "ExternalModelError",
    "MultiBranchGCN",
    "Preset",
    "build_external",
    "build_model",
    "edge_importance_parameters",
    "load_model",
    "make_architecture",
    "read_checkpoint",
    "read_external_state_dict",
    "save_checkpoint",
]

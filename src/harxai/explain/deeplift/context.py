"""What a rule sees of the pass it runs in (:class:`PassContext`), apart from the engine's dispatch.

The rules (:mod:`harxai.explain.deeplift.rules`) take the running pass as their first argument;
they use only this part of it, so they depend on this module and not on the engine that
dispatches to them (:mod:`harxai.explain.deeplift.engine`, whose ``Pass`` extends it).
"""

from __future__ import annotations

from torch import Tensor
from torch.overrides import TorchFunctionMode

from .functions import UnsupportedOperationError, tile_to


class PassContext(TorchFunctionMode):
    """The running pass as a rule uses it: a torch function mode (a rule that decomposes an
    operation re-enters it with ``with p:``) with the pass's sizes and messages.

    Attributes
    ----------
    samples
        Number of samples s of the paired batch (rows ``s * chunk``); 1 in the reference pass.
    chunk
        Background rows per sample in the paired batch (1 in the reference pass).
    """

    samples: int
    chunk: int

    def where(self) -> str:
        """The running module, for messages."""
        return "the model's top level"

    def error(self, name: str, why: str = "") -> UnsupportedOperationError:
        """The error for an operation a rule cannot treat exactly."""
        reason = f" ({why})" if why else ""
        return UnsupportedOperationError(
            f"fast SHAP engine: operation '{name}' on an input-dependent tensor in {self.where()} "
            f"has no exact DeepLIFT rule{reason}. Rewrite it with supported operations "
            "(see src/harxai/explain/deeplift/README.md) or use backend='deepexplainer'."
        )

    def what(self, name: str) -> str:
        return f"'{name}' in {self.where()}"

    def tiled(self, ref: Tensor, like: Tensor, name: str) -> Tensor:
        """A recorded reference tensor repeated to the pair tensor ``like``'s shape."""
        return tile_to(ref, like.shape, self.samples, self.what(name))

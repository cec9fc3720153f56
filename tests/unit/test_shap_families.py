"""The fast SHAP engine on models of the field's families (issue 13, point 6).

The models (tests/models_zoo.py) are written from the papers' descriptions, with the
operations that characterise each family: partitions and edge importance (ST-GCN), an adaptive
adjacency from a softmax of embedded similarity plus a learned B and sigmoid attention gates
(AAGCN), tanh of pairwise channel differences and einsum (CTR-GCN), Swish, separable temporal
convolutions and ST-joint attention (EfficientGCN), nn.MultiheadAttention self-attention with
LayerNorm and GELU in PyTorch's fast-path configuration, its slow path and
nn.TransformerEncoderLayer (skeleton transformer), matmul attention with a tuple output
(InfoGCN). On each, the fast engine must be complete to 1e-4 relative; where shap.DeepExplainer
is exact (no products, no softmax), both backends must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from models_zoo import DEEPEXPLAINER_EXACT, ZOO, FirstOutput, randomise
from torch import nn

from harxai.explain import shap_values

TOL = 1e-4
SHAPE = (3, 12, 25, 2)  # channel, frame, joint, person


def zoo_model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = randomise(ZOO[name](num_class=6, width=8), seed)
    head = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():
        head.weight.mul_(20.0)  # a sharp classifier, as trained models have: outputs far from E[f]
    return FirstOutput(model).eval() if name == "infogcn" else model


def data(seed: int = 0, samples: int = 3, background: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(samples, *SHAPE, generator=g), torch.randn(background, *SHAPE, generator=g)


@pytest.mark.parametrize("name", list(ZOO))
def test_fast_shap_is_complete_on_the_family(name: str) -> None:
    model = zoo_model(name)
    x, b = data()
    with torch.no_grad():
        target = model(x).argmax(1).numpy()
    result = shap_values(model, x, b, target, backend="fast", batch_size=8)
    gap = np.abs(result.output - result.expected_value)
    assert gap.max() > 1e-3, gap  # outputs differ from the expectation: the test means something
    assert result.completeness_error <= TOL, result.completeness_error
    assert not model.training


@pytest.mark.parametrize("name", DEEPEXPLAINER_EXACT)
def test_fast_shap_equals_deepexplainer_where_it_is_exact(name: str) -> None:
    model = zoo_model(name, seed=1)
    x, b = data(seed=1, samples=2)
    target = np.array([1, 4])
    fast = shap_values(model, x, b, target, backend="fast")
    ref = shap_values(model, x, b, target, backend="deepexplainer")
    assert ref.completeness_error <= TOL  # DeepExplainer is exact on this model
    scale = np.abs(ref.values[0]).max()
    assert scale > 0
    assert np.abs(fast.values[0] - ref.values[0]).max() / scale <= TOL


def test_transformer_fast_path_is_what_pytorch_runs_in_plain_inference() -> None:
    """The 'fast' transformer meets nn.MultiheadAttention's fast-path conditions; 'slow' does not."""
    fast, slow = zoo_model("transformer"), zoo_model("transformer_slow")
    seen: list[str] = []
    native = torch._native_multi_head_attention

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append("native")
        return native(*args, **kwargs)

    x, _ = data()
    torch._native_multi_head_attention = spy  # type: ignore[assignment]
    try:
        with torch.no_grad():
            fast(x)
            assert seen, "the fast-path model did not take PyTorch's fast path"
            seen.clear()
            slow(x)
            assert not seen
    finally:
        torch._native_multi_head_attention = native  # type: ignore[assignment]

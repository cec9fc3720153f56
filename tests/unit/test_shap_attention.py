"""Attention in the fast SHAP engine: PyTorch's fused attention re-run as elementary operations.

The decompositions of :mod:`harxai.explain.deeplift.attention` are compared with PyTorch's own
``nn.MultiheadAttention`` and ``F.scaled_dot_product_attention`` outputs, and the engine's
attributions of models using them are checked for completeness; unsupported variants raise.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from harxai.explain import UnsupportedOperationError, shap_values
from harxai.explain.deeplift.attention import multi_head_attention, scaled_dot_product_attention


class _Capture(TorchFunctionMode):
    """Records the bound arguments of F.multi_head_attention_forward and lets it run."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: dict[str, Any] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func is F.multi_head_attention_forward:
            bound = inspect.signature(func).bind(*args, **kwargs)
            bound.apply_defaults()
            self.bound = dict(bound.arguments)
        return func(*args, **kwargs)


def _padding(batch: int, source: int) -> torch.Tensor:
    mask = torch.zeros(batch, source, dtype=torch.bool)
    mask[0, -2:] = True  # the first sample's last two keys are padding
    return mask


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("masks", ["none", "bool", "bool+padding", "float+padding"])
def test_multi_head_attention_decomposition_equals_pytorch(
    batch_first: bool, need_weights: bool, masks: str
) -> None:
    torch.manual_seed(10)
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first).eval()
    x = torch.randn(3, 5, 8) if batch_first else torch.randn(5, 3, 8)
    kwargs: dict[str, Any] = {"need_weights": need_weights}
    if masks.startswith("bool"):
        kwargs["attn_mask"] = torch.ones(5, 5, dtype=torch.bool).triu(1)
    if masks == "bool+padding":
        kwargs["key_padding_mask"] = _padding(3, 5)
    elif masks == "float+padding":
        kwargs["attn_mask"] = torch.randn(5, 5)
        kwargs["key_padding_mask"] = torch.zeros(3, 5).masked_fill(_padding(3, 5), float("-inf"))
    capture = _Capture()
    with torch.no_grad(), capture:
        expected, expected_w = mha(x, x, x, **kwargs)
    with torch.no_grad():
        out, w = multi_head_attention(capture.bound)
    out = out.transpose(0, 1) if batch_first else out
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    if need_weights:
        assert w is not None
        assert expected_w is not None
        torch.testing.assert_close(w, expected_w, rtol=1e-5, atol=1e-6)
    else:
        assert w is None
        assert expected_w is None


@pytest.mark.parametrize("variant", ["plain", "causal", "bool mask", "float mask", "scale"])
def test_scaled_dot_product_attention_decomposition_equals_pytorch(variant: str) -> None:
    torch.manual_seed(11)
    q, k, v = torch.randn(2, 3, 4, 6), torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 7)
    kwargs: dict[str, Any] = {}
    if variant == "causal":
        k, v = k[:, :, :4], v[:, :, :4]
        kwargs["is_causal"] = True
    elif variant == "bool mask":
        kwargs["attn_mask"] = torch.rand(4, 5) > 0.3
        kwargs["attn_mask"][:, 0] = True  # every query keeps a key
    elif variant == "float mask":
        kwargs["attn_mask"] = torch.randn(2, 1, 4, 5)
    else:
        kwargs["scale"] = 0.3
    expected = F.scaled_dot_product_attention(q, k, v, **kwargs)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, **kwargs), expected, rtol=1e-5, atol=1e-6
    )


class _Transformer(nn.Module):
    """Embedding, one multi-head self-attention layer with key padding, and a classifier."""

    def __init__(self, batch_first: bool) -> None:
        super().__init__()
        torch.manual_seed(12)
        self.embed = nn.Linear(3, 8)
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
        self.head = nn.Linear(8, 3)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (sample, token, feature)
        h = torch.tanh(self.embed(x))
        padding = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool, device=x.device)
        padding[:, -1] = True  # the last token is padding (a key no query attends to)
        if self.batch_first:
            a, _ = self.mha(h, h, h, key_padding_mask=padding)
        else:
            t = h.transpose(0, 1)  # (token, sample, feature)
            a = self.mha(t, t, t, key_padding_mask=padding)[0].transpose(0, 1)
        return self.head((a + h).mean(1))


class _Sdpa(nn.Module):
    """Causal scaled dot-product attention over projections of the input, written functionally."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(13)
        self.qkv = nn.Linear(4, 12)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (sample, token, feature)
        q, k, v = self.qkv(x).unflatten(-1, (3, 1, 4)).unbind(2)  # each (sample, token, 1, 4)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        return self.head(a.transpose(1, 2).flatten(2).mean(1))


@pytest.mark.parametrize(
    "model", [_Transformer(False), _Transformer(True), _Sdpa()], ids=["mha", "mha batch_first", "sdpa"]
)
def test_attention_models_get_complete_attributions(model: nn.Module) -> None:
    features = 3 if isinstance(model, _Transformer) else 4
    x, b = torch.randn(5, 6, features) * 2, torch.randn(4, 6, features) * 2
    target = np.array([0, 1, 0, 1, 0])
    result = shap_values(model, x, b, target, batch_size=8)
    assert result.completeness_error <= 1e-4
    assert np.abs(result.output - result.expected_value).max() > 1e-2


def test_unsupported_attention_variants_are_refused() -> None:
    class Biased(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(4, 1, add_bias_kv=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (sample, token, feature)
            t = x.transpose(0, 1)
            return self.mha(t, t, t)[0].mean((0, 2)).unsqueeze(1)

    with pytest.raises(UnsupportedOperationError, match=r"operation 'multi_head_attention_forward'.*bias_k"):
        shap_values(Biased(), torch.randn(2, 3, 4), torch.randn(4, 3, 4), [0, 0], batch_size=8)

    class Dropped(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).mean(1)

    with pytest.raises(
        UnsupportedOperationError, match=r"operation 'scaled_dot_product_attention'.*dropout_p"
    ):
        shap_values(Dropped(), torch.randn(2, 3, 4), torch.randn(3, 3, 4), [0, 1])

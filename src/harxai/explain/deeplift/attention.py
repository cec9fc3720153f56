"""Attention for the fast SHAP engine: fused attention functions written as elementary operations.

``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` calls) and
``F.scaled_dot_product_attention`` reach a ``TorchFunctionMode`` as single opaque operations.
:mod:`harxai.explain.deeplift.rules` (``AttentionRule``) re-runs them as the functions below, with the
mode active, so that every step gets its own exact rule: the projections are linear maps with
constant weights, ``q @ k^T`` and ``weights @ v`` are products of two input-dependent tensors
(the Shapley product rule), and the softmax is the softmax composite. The functions follow
PyTorch's reference formulas (the docstring of ``scaled_dot_product_attention`` and
``multi_head_attention_forward``); tests compare them with PyTorch's outputs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

SDPA_NAMES = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")


def mha_unsupported(p: dict[str, Any]) -> str | None:
    """Why a bound ``multi_head_attention_forward`` call has no decomposition here, or None."""
    if p["query"].dim() != 3:
        return "unbatched input (no sample dimension)"
    for name in ("bias_k", "bias_v", "static_k", "static_v"):
        if p.get(name) is not None:
            return f"{name} is not supported"
    if p.get("add_zero_attn"):
        return "add_zero_attn is not supported"
    if p.get("training", True) and float(p.get("dropout_p", 0.0)) > 0:
        return "dropout is active (training=True)"
    return None


def sdpa_unsupported(p: dict[str, Any]) -> str | None:
    """Why a bound ``scaled_dot_product_attention`` call has no decomposition here, or None."""
    if float(p.get("dropout_p") or 0.0) > 0:
        return "dropout_p > 0"
    if p.get("enable_gqa"):
        return "enable_gqa is not supported"
    return None


def _bias(dropped: Tensor, dtype: torch.dtype) -> Tensor:
    """0 where a bool mask keeps a score, -inf where ``dropped``."""
    return torch.zeros(dropped.shape, dtype=dtype, device=dropped.device).masked_fill(dropped, float("-inf"))


def _additive(mask: Tensor | None, dtype: torch.dtype, keep: bool) -> Tensor | None:
    """A float mask to add to the scores: bool masks give 0 and -inf (``keep``: True keeps)."""
    if mask is None:
        return None
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    return _bias(~mask if keep else mask, dtype)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(q @ k^T * scale + bias) @ v`` over the last two dims (PyTorch's reference)."""
    length, source = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    bias = _additive(attn_mask, query.dtype, keep=True)
    if is_causal:
        causal = _bias(torch.ones(length, source, dtype=torch.bool, device=query.device).triu(1), query.dtype)
        bias = causal if bias is None else bias + causal
    scores = torch.matmul(query, key.transpose(-2, -1)) * factor
    if bias is not None:
        scores = scores + bias
    return torch.matmul(F.softmax(scores, dim=-1), value)


def _mha_mask(p: dict[str, Any], batch: int, heads: int, dtype: torch.dtype) -> Tensor | None:
    """attn_mask and key_padding_mask merged into one additive (batch*heads or 1, L, S) mask."""
    mask = _additive(p.get("attn_mask"), dtype, keep=False)
    if mask is not None and mask.dim() == 2:
        mask = mask.unsqueeze(0)
    padding = _additive(p.get("key_padding_mask"), dtype, keep=False)
    if padding is not None:
        source = padding.shape[-1]
        padding = (
            padding.view(batch, 1, 1, source).expand(-1, heads, -1, -1).reshape(batch * heads, 1, source)
        )
        mask = padding if mask is None else mask + padding
    return mask


def multi_head_attention(p: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
    """``F.multi_head_attention_forward`` for batched (L, N, E) inputs, from its bound arguments."""
    query, key, value = p["query"], p["key"], p["value"]
    length, batch, embed = query.shape
    source, heads = key.shape[0], int(p["num_heads"])
    head_dim = embed // heads
    if p.get("use_separate_proj_weight"):
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    else:
        wq, wk, wv = p["in_proj_weight"].chunk(3)
    b = p.get("in_proj_bias")
    bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
    q = F.linear(query, wq, bq).reshape(length, batch * heads, head_dim).transpose(0, 1)
    k = F.linear(key, wk, bk).reshape(source, batch * heads, head_dim).transpose(0, 1)
    v = F.linear(value, wv, bv).reshape(source, batch * heads, head_dim).transpose(0, 1)
    scores = torch.bmm(q * math.sqrt(1.0 / head_dim), k.transpose(1, 2))  # (N*H, L, S)
    mask = _mha_mask(p, batch, heads, q.dtype)
    if mask is not None:
        scores = scores + mask
    weights = F.softmax(scores, dim=-1)
    # (L, N, E), not PyTorch's (L * N, E): merging L and N would put the sample dimension
    # inside the token dimension, where the engine cannot align it with its reference
    out = torch.bmm(weights, v).transpose(0, 1).reshape(length, batch, embed)
    out = F.linear(out, p["out_proj_weight"], p.get("out_proj_bias"))
    if not p.get("need_weights", True):
        return out, None
    per_head = weights.view(batch, heads, length, source)
    return out, per_head.mean(dim=1) if p.get("average_attn_weights", True) else per_head

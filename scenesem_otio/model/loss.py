"""Text-guided soft contrastive loss (SPEC §3.3) and the supervised contrastive L_seg.

Every term is returned on its own so training can log it; nothing here knows about videos.
"""

from __future__ import annotations

import numpy as np
import torch


def text_calibration(text_embeddings: np.ndarray, low: float = 5.0, high: float = 95.0
                     ) -> tuple[float, float]:
    """a, b = 5th and 95th percentile of s_ij = t_i·t_j over distinct training texts (i≠j)."""
    t = np.asarray(text_embeddings, dtype=np.float64)
    if len(t) < 2:
        return 0.0, 1.0
    s = t @ t.T
    off = s[~np.eye(len(t), dtype=bool)]
    a, b = float(np.percentile(off, low)), float(np.percentile(off, high))
    if b - a < 1e-6:  # all texts alike: keep the mapping defined
        a, b = min(a, b - 1e-3), max(b, a + 1e-3)
    return a, b


def soft_weights(t: torch.Tensor, a: float, b: float, mapping: str = "linear"
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(s, w⁺, w⁻) for normalised texts t [N, d]; diagonal weights are 0 (pairs i≠j only)."""
    s = t @ t.T
    u = ((s - a) / (b - a)).clamp(0.0, 1.0)
    if mapping == "linear":
        w_pos, w_neg = u, 1.0 - u
    elif mapping == "squared":
        w_pos, w_neg = u**2, (1.0 - u) ** 2
    else:
        raise ValueError(f"unknown mapping {mapping!r} (linear or squared)")
    off = 1.0 - torch.eye(len(t), dtype=t.dtype, device=t.device)
    return s, w_pos * off, w_neg * off


def semantic_loss(v: torch.Tensor, t: torch.Tensor, a: float, b: float,
                  mapping: str = "linear", lambda_neg: float = 1.0, margin: float = 0.0
                  ) -> dict[str, torch.Tensor]:
    """L_pos = Σw⁺(1−ŝ)/Σw⁺, L_neg = Σw⁻ max(0, ŝ−m)²/Σw⁻, L_sem = L_pos + λ L_neg."""
    _, w_pos, w_neg = soft_weights(t.to(v.dtype), a, b, mapping)
    s_hat = v @ v.T
    eps = torch.finfo(v.dtype).eps
    l_pos = (w_pos * (1.0 - s_hat)).sum() / w_pos.sum().clamp(min=eps)
    l_neg = (w_neg * (s_hat - margin).clamp(min=0.0) ** 2).sum() / w_neg.sum().clamp(min=eps)
    return {"l_pos": l_pos, "l_neg": l_neg, "l_sem": l_pos + lambda_neg * l_neg}


def supcon_loss(v: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.): clips with the same label are positives.

    Anchors without a positive in the batch are skipped; 0 when no anchor has one.
    """
    n = len(v)
    logits = (v @ v.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=v.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(1)
    has = counts > 0
    if not has.any():
        return v.sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(1)
    return -(pos_log_prob[has] / counts[has]).mean()


def total_loss(v: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, a: float, b: float, *,
               mapping: str = "linear", lambda_neg: float = 1.0, margin: float = 0.0,
               alpha: float = 1.0, temperature: float = 0.1) -> dict[str, torch.Tensor]:
    """L = L_seg + α L_sem, with every term alongside."""
    terms = semantic_loss(v, t, a, b, mapping, lambda_neg, margin)
    terms["l_seg"] = supcon_loss(v, labels, temperature)
    terms["loss"] = terms["l_seg"] + alpha * terms["l_sem"]
    return terms

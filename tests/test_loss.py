"""SPEC §3.3 loss against hand-computed values, and the properties it must have."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scenesem_otio.model.loss import (
    semantic_loss,
    soft_weights,
    supcon_loss,
    text_calibration,
    total_loss,
)

# Texts: s01 = 1, s02 = s12 = 0.6.  Videos: ŝ01 = 0.6, ŝ02 = 0, ŝ12 = 0.8.
T = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]])
V = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
A, B = 0.2, 0.8  # u01 = 1, u02 = u12 = 2/3


def test_linear_3x3_by_hand() -> None:
    _s, wp, wn = soft_weights(T, A, B, "linear")
    assert torch.allclose(wp, torch.tensor([[0, 1, 2 / 3], [1, 0, 2 / 3], [2 / 3, 2 / 3, 0]]))
    assert torch.allclose(wn, torch.tensor([[0, 0, 1 / 3], [0, 0, 1 / 3], [1 / 3, 1 / 3, 0]]))
    out = semantic_loss(V, T, A, B, "linear")
    # L_pos = (1·0.4 + 2/3·1 + 2/3·0.2) / (1 + 4/3);  L_neg = (1/3·0 + 1/3·0.64) / (2/3)
    assert out["l_pos"].item() == pytest.approx(1.2 / (7 / 3))
    assert out["l_neg"].item() == pytest.approx(0.32)
    assert out["l_sem"].item() == pytest.approx(1.2 / (7 / 3) + 0.32)


def test_squared_3x3_by_hand() -> None:
    out = semantic_loss(V, T, A, B, "squared", lambda_neg=2.0)
    l_pos = (0.4 + 4 / 9 * 1 + 4 / 9 * 0.2) / (1 + 8 / 9)
    l_neg = (1 / 9 * 0.64) / (2 / 9)
    assert out["l_pos"].item() == pytest.approx(l_pos)
    assert out["l_neg"].item() == pytest.approx(l_neg)
    assert out["l_sem"].item() == pytest.approx(l_pos + 2 * l_neg)


def test_margin() -> None:
    out = semantic_loss(V, T, A, B, "linear", margin=0.5)
    # max(0, 0 − 0.5)² = 0 and max(0, 0.8 − 0.5)² = 0.09, each weighted 1/3.
    assert out["l_neg"].item() == pytest.approx(0.09 / 2)


def test_identical_texts_pull_fully() -> None:
    t = torch.nn.functional.normalize(torch.ones(3, 4), dim=-1)
    _, wp, wn = soft_weights(t, 0.1, 0.9, "linear")
    off = ~torch.eye(3, dtype=torch.bool)
    assert torch.allclose(wp[off], torch.ones(6)) and torch.allclose(wn[off], torch.zeros(6))
    assert torch.all(wp.diagonal() == 0) and torch.all(wn.diagonal() == 0)


def test_squared_weighs_mid_range_less() -> None:
    _, lin_p, lin_n = soft_weights(T, A, B, "linear")
    _, sq_p, sq_n = soft_weights(T, A, B, "squared")
    assert sq_p[0, 2] < lin_p[0, 2] and sq_n[0, 2] < lin_n[0, 2]
    assert sq_p[0, 1] == lin_p[0, 1] == 1


def test_gradient_pulls_similar_and_pushes_dissimilar() -> None:
    t = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # 0,1 same text; 2 unrelated
    v = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.6, 0.0, 0.8]])
    v = v.clone().requires_grad_(True)

    def sims(x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.normalize(x, dim=-1)
        return x @ x.T

    before = sims(v.detach())
    loss = semantic_loss(torch.nn.functional.normalize(v, dim=-1), t, 0.0, 1.0)["l_sem"]
    loss.backward()
    after = sims(v.detach() - 0.05 * v.grad)
    assert after[0, 1] > before[0, 1]  # high text similarity: pulled together
    assert after[0, 2] < before[0, 2] and after[1, 2] < before[1, 2]  # low: pushed apart


def test_supcon_and_total() -> None:
    v = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0],
                                                    [0.1, 1.0]]), dim=-1)
    good = supcon_loss(v, torch.tensor([0, 0, 1, 1]))
    bad = supcon_loss(v, torch.tensor([0, 1, 0, 1]))
    assert good < bad
    # By hand (τ = 0.5, so the loss is not lost in float32 rounding): every anchor's
    # −log softmax over j≠i of ŝ/τ at its one positive, averaged over anchors.
    sim = (v @ v.T).tolist()
    positive = {0: 1, 1: 0, 2: 3, 3: 2}
    by_hand = sum(
        math.log(sum(math.exp(sim[i][j] / 0.5) for j in range(4) if j != i))
        - sim[i][positive[i]] / 0.5 for i in range(4)) / 4
    assert supcon_loss(v, torch.tensor([0, 0, 1, 1]), 0.5).item() == pytest.approx(by_hand,
                                                                                 rel=1e-5)
    # Two clips that are each other's only candidate: softmax 1, loss 0.
    assert supcon_loss(v[:2], torch.tensor([0, 0])).item() == pytest.approx(0.0, abs=1e-3)
    assert supcon_loss(v, torch.tensor([0, 1, 2, 3])).item() == 0  # no positives
    terms = total_loss(v, v, torch.tensor([0, 0, 1, 1]), 0.0, 1.0, alpha=0.5)
    assert terms["loss"].item() == pytest.approx(terms["l_seg"].item()
                                                 + 0.5 * terms["l_sem"].item())
    assert set(terms) == {"loss", "l_seg", "l_sem", "l_pos", "l_neg"}


def test_text_calibration_percentiles() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(20, 8))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    a, b = text_calibration(t)
    s = t @ t.T
    off = s[~np.eye(20, dtype=bool)]
    assert a == pytest.approx(np.percentile(off, 5)) and b == pytest.approx(np.percentile(off, 95))

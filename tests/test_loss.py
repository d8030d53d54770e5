"""PoseLoss: each term in metres, weighted from the config, zero for a perfect prediction."""

from __future__ import annotations

import pytest
import torch

from pose3d.config import LossWeights
from pose3d.metrics import root_relative
from pose3d.testing.samples import make_batch
from pose3d.training.loss import PoseLoss, pairwise_distances

WEIGHTS = LossWeights(mse=1.0, l1=2.0, distance=0.5, root=0.1)


def perfect_prediction(batch: dict) -> dict:
    joints = batch["joints_3d"].double()
    return {"joints_rel_mm": root_relative(joints), "root_mm": joints[:, 0], "joints_mm": joints}


def test_perfect_prediction_costs_nothing():
    batch = make_batch(0, 4)
    total, parts = PoseLoss(WEIGHTS)(perfect_prediction(batch), batch)
    assert total.item() == pytest.approx(0.0, abs=1e-9)
    assert set(parts) == {"mse", "l1", "distance", "root", "total", "mpjpe_mm"}
    for value in parts.values():
        assert value.item() == pytest.approx(0.0, abs=1e-9)


def test_terms_are_in_metres_and_weighted():
    batch = make_batch(1, 3)
    prediction = perfect_prediction(batch)
    prediction["joints_rel_mm"] = prediction["joints_rel_mm"].clone()
    prediction["joints_rel_mm"][:, 5, 0] += 30.0  # one joint 30 mm off along x
    prediction["root_mm"] = prediction["root_mm"] + torch.tensor([0.0, 0.0, 200.0], dtype=torch.float64)
    total, parts = PoseLoss(WEIGHTS)(prediction, batch)
    assert parts["l1"].item() == pytest.approx(0.030 / 51)
    assert parts["mse"].item() == pytest.approx(0.030**2 / 51)
    assert parts["root"].item() == pytest.approx(0.200 / 3)
    assert parts["mpjpe_mm"].item() == pytest.approx(30.0 / 17)
    assert 0 < parts["distance"].item() <= 0.030 * 16 / 136 + 1e-9  # only pairs with joint 5 change
    expected = sum(getattr(WEIGHTS, name) * parts[name] for name in ("mse", "l1", "distance", "root"))
    assert total.item() == pytest.approx(expected.item())
    assert parts["total"].item() == pytest.approx(total.item())


def test_root_relative_terms_ignore_where_the_root_is():
    batch = make_batch(2, 4)
    prediction = perfect_prediction(batch)
    prediction["joints_rel_mm"] = prediction["joints_rel_mm"] + 100.0  # a constant shift is not a pose error
    _, parts = PoseLoss(WEIGHTS)(prediction, batch)
    for name in ("mse", "l1", "distance", "root"):
        assert parts[name].item() == pytest.approx(0.0, abs=1e-9)


def test_gradients_reach_both_outputs_and_components_are_detached():
    batch = make_batch(3, 2)
    rel = torch.randn(2, 17, 3, requires_grad=True)
    root = torch.tensor([[0.0, 0.0, 4000.0]] * 2, requires_grad=True)
    total, parts = PoseLoss(WEIGHTS)({"joints_rel_mm": rel * 100, "root_mm": root}, batch)
    total.backward()
    assert rel.grad.abs().sum() > 0 and root.grad.abs().sum() > 0
    assert all(not value.requires_grad for value in parts.values())


def test_pairwise_distances_count_every_pair_once():
    joints = torch.tensor([[[0.0, 0, 0], [3, 4, 0], [0, 0, 2]]])
    assert pairwise_distances(joints).tolist() == [[5.0, 2.0, pytest.approx(29**0.5)]]

"""MPJPE protocols: root alignment, Procrustes alignment, scale normalisation, per-action means."""

from __future__ import annotations

import numpy as np
import torch

from pose3d import metrics
from pose3d.geometry import rotation_about_axis


def sample_poses(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 17, 3)) * 250 + np.array([0, 0, 4000])


def test_mpjpe_ignores_a_global_translation_but_not_a_joint_offset():
    target = sample_poses()
    assert np.allclose(metrics.mpjpe(target + [100, -50, 300], target), 0)
    moved = target.copy()
    moved[:, 5] += [0, 0, 170]
    np.testing.assert_allclose(metrics.mpjpe(moved, target), 10.0)  # 170 mm on one joint of 17


def test_pa_mpjpe_is_zero_for_a_similar_copy_and_not_for_a_mirror():
    target = sample_poses()
    rotation = rotation_about_axis([0.3, 1.0, 0.2], 0.7)
    similar = 1.3 * target @ rotation.T + [50, 20, -400]
    np.testing.assert_allclose(metrics.pa_mpjpe(similar, target), 0, atol=1e-6)
    assert metrics.mpjpe(similar, target).min() > 10
    mirrored = target * [-1, 1, 1]
    assert metrics.pa_mpjpe(mirrored, target).min() > 10


def test_n_mpjpe_removes_scale_only():
    target = sample_poses()
    np.testing.assert_allclose(metrics.n_mpjpe(0.8 * target, target), 0, atol=1e-6)
    rotated = target @ rotation_about_axis([0, 1, 0], 0.5).T
    assert metrics.n_mpjpe(rotated, target).min() > 1


def test_torch_and_numpy_agree():
    predicted, target = sample_poses(seed=1), sample_poses(seed=2)
    for name, fn in metrics.METRICS.items():
        np.testing.assert_allclose(
            fn(torch.tensor(predicted), torch.tensor(target)).numpy(), fn(predicted, target), rtol=1e-9, err_msg=name
        )


def test_per_action_table_averages_action_means():
    errors = {"mpjpe": np.array([10.0, 10.0, 10.0, 40.0])}
    table = metrics.per_action_table(errors, actions=[2, 2, 2, 14])
    assert table["2"]["mpjpe"] == 10.0 and table["14"]["mpjpe"] == 40.0
    assert table["average"]["mpjpe"] == 25.0  # each action weighs the same
    assert table["all_samples"]["mpjpe"] == 17.5

"""Pose error metrics, as the Human3.6M literature reports them.

All functions take (..., J, 3) arrays in millimetres (numpy or torch) and return the
per-sample error (...,) unless said otherwise; average them yourself, or per action
with `per_action_table`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from pose3d.geometry import _is_torch, procrustes_align
from pose3d.skeleton import ROOT_JOINT

Array = Any


def _norm(x: Array) -> Array:
    if _is_torch(x):
        return x.norm(dim=-1)
    return np.linalg.norm(x, axis=-1)


def _sum_joints(x: Array) -> Array:
    """Sum over the last two axes (joints, coordinates)."""
    return x.sum(dim=(-1, -2)) if _is_torch(x) else x.sum(axis=(-1, -2))


def root_relative(joints: Array, root: int = ROOT_JOINT) -> Array:
    """Subtract the root joint (pelvis) from every joint."""
    return joints - joints[..., root : root + 1, :]


def per_joint_error(predicted: Array, target: Array) -> Array:
    """Euclidean error per joint (..., J), after root alignment (Protocol #1's per-joint view)."""
    assert predicted.shape == target.shape, (predicted.shape, target.shape)
    return _norm(root_relative(predicted) - root_relative(target))


def mpjpe(predicted: Array, target: Array) -> Array:
    """Protocol #1: mean per-joint position error after aligning the root joints."""
    return per_joint_error(predicted, target).mean(-1)


def absolute_mpjpe(predicted: Array, target: Array) -> Array:
    """Mean per-joint error with no alignment at all (absolute camera-space pose)."""
    assert predicted.shape == target.shape, (predicted.shape, target.shape)
    return _norm(predicted - target).mean(-1)


def pa_mpjpe(predicted: Array, target: Array) -> Array:
    """Protocol #2: MPJPE after similarity Procrustes alignment (scale, rotation, translation)."""
    assert predicted.shape == target.shape, (predicted.shape, target.shape)
    return _norm(procrustes_align(predicted, target) - target).mean(-1)


def n_mpjpe(predicted: Array, target: Array) -> Array:
    """Protocol #3 (Rhodin et al.): MPJPE after the least-squares scale of the root-relative pose."""
    assert predicted.shape == target.shape, (predicted.shape, target.shape)
    pred_rel, target_rel = root_relative(predicted), root_relative(target)
    scale = _sum_joints(pred_rel * target_rel) / (_sum_joints(pred_rel**2) + 1e-12)
    return _norm(scale[..., None, None] * pred_rel - target_rel).mean(-1)


METRICS = {"mpjpe": mpjpe, "pa_mpjpe": pa_mpjpe, "n_mpjpe": n_mpjpe}


def per_action_table(
    errors_by_metric: Mapping[str, np.ndarray], actions: Iterable[Any]
) -> dict[str, dict[str, float]]:
    """Mean of each metric per action, plus `average`: the mean over actions.

    The literature averages the per-action means (each action weighs the same), not the
    per-sample errors; `all_samples` is the latter, kept for reference.
    """
    actions = np.asarray(list(actions))
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for name, errors in errors_by_metric.items():
        errors = np.asarray(errors, dtype=np.float64)
        assert errors.shape == actions.shape, (name, errors.shape, actions.shape)
        for action in np.unique(actions):
            table[str(action)][name] = float(errors[actions == action].mean())
    action_keys = sorted(table, key=lambda a: (len(a), a))
    result = {key: table[key] for key in action_keys}
    result["average"] = {
        name: float(np.mean([table[a][name] for a in action_keys])) for name in errors_by_metric
    }
    result["all_samples"] = {name: float(np.mean(errors)) for name, errors in errors_by_metric.items()}
    return result

"""Each model's test MPJPE as a multiple of the keypoint lifter's: whether RGB and depth help at all.

The mean pose is beaten by anything; the reference a reviewer asks for is the field's single-frame
baseline, the lifter on the same 2D keypoints (Martinez et al. 2017), trained in the same run. Only
evaluations of the lifter's own samples (split, sample count, kind of inputs) are compared: a
leftover evaluation from another config is left out rather than misread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASELINE_MODEL = "lifter"
SAME = ("split", "num_samples")  # metrics.json keys that must match the lifter's (and inputs.kind)


def _mpjpe(metrics: Mapping[str, Any]) -> float | None:
    return ((metrics.get("model") or {}).get("average") or {}).get("mpjpe")


def ratios_to_lifter(evaluated: Mapping[str, Mapping[str, Any]]) -> tuple[float | None, dict[str, float]]:
    """(the lifter's MPJPE, {model: its MPJPE / the lifter's}) over the models of `evaluated` (name ->
    metrics.json) evaluated on the lifter's samples; (None, {}) without a lifter evaluation."""
    lifter = evaluated.get(BASELINE_MODEL) or {}
    reference = _mpjpe(lifter)
    if not reference:
        return None, {}
    kind = (lifter.get("inputs") or {}).get("kind")
    ratios = {}
    for name, metrics in evaluated.items():
        mpjpe = _mpjpe(metrics)
        comparable = all(metrics.get(key) == lifter.get(key) for key in SAME) and (
            (metrics.get("inputs") or {}).get("kind") == kind)
        if mpjpe is not None and comparable:
            ratios[name] = mpjpe / reference
    return reference, ratios

"""Which meaning a Human3.6M camera file gives its `t`, and a check that the annotations agree.

Two conventions circulate for the same `Human36M_subject{S}_camera.json`:

    translation  X_cam = R @ X_world + t          (files distributed since mid 2020)
    centre       X_cam = R @ (X_world - C), t = C  (older files, the original conversion tool)

Both give the same pixels only when t = -R @ C, so reading one as the other silently moves
every 3D target by metres. The annotated person boxes settle it: with the right convention
the projected 3D joints fall inside the box of their frame (true by construction in the
release). `check_camera_convention` projects a sample of frames per camera with both readings
and raises `CameraConventionError` when the configured one does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAMERA_T_CONVENTIONS = ("translation", "centre")
# A frame fits when every joint projects in front of the camera and inside its person box
# grown by this fraction of the box's longer side (boxes are drawn around the silhouette).
BOX_MARGIN = 0.2
# A convention fits a camera when at least this fraction of the sampled frames fit.
FIT_FRACTION = 0.9


class CameraConventionError(ValueError):
    """The annotated 3D joints do not land in the person boxes with the configured camera reading."""


def translation_from_annotation(rotation: np.ndarray, t: np.ndarray, camera_t: str) -> np.ndarray:
    """The translation of `X_cam = R @ X_world + translation` (mm) for a file's `t` read as `camera_t`."""
    rotation, t = np.asarray(rotation, np.float64), np.asarray(t, np.float64).reshape(3)
    if camera_t == "translation":
        return t
    if camera_t == "centre":
        return -rotation @ t
    raise ValueError(f"camera_t must be one of {CAMERA_T_CONVENTIONS}, got {camera_t!r}")


def fraction_in_boxes(
    joints_world_mm: np.ndarray, boxes_xywh: np.ndarray, rotation: np.ndarray, translation_mm: np.ndarray,
    focal: np.ndarray, center: np.ndarray,
) -> float:
    """Fraction of frames whose joints (N,17,3 world mm) all project inside their box (N,4 xywh px)."""
    joints = np.asarray(joints_world_mm, np.float64)
    if len(joints) == 0:
        return float("nan")
    cam = joints @ np.asarray(rotation, np.float64).T + np.asarray(translation_mm, np.float64)
    in_front = np.all(cam[..., 2] > 0, axis=1)
    z = np.where(cam[..., 2:] > 0, cam[..., 2:], np.inf)
    pixels = np.asarray(focal, np.float64) * cam[..., :2] / z + np.asarray(center, np.float64)
    boxes = np.asarray(boxes_xywh, np.float64)
    margin = BOX_MARGIN * np.max(boxes[:, 2:], axis=1, keepdims=True)
    low = boxes[:, None, :2] - margin[:, None]
    high = boxes[:, None, :2] + boxes[:, None, 2:] + margin[:, None]
    inside = np.all((pixels >= low) & (pixels <= high), axis=(1, 2))
    return float(np.mean(in_front & inside))


@dataclass(frozen=True)
class ConventionFit:
    """How well each reading of one camera's `t` puts the sampled joints in their boxes."""

    subject: int
    camera: int
    frames: int
    translation: float  # fraction of sampled frames that fit when t is a translation
    centre: float  # ... when t is the camera centre

    def fits(self, camera_t: str) -> bool:
        return getattr(self, camera_t) >= FIT_FRACTION

    def as_dict(self) -> dict:
        return {"subject": self.subject, "camera": self.camera, "frames": self.frames,
                "translation": round(self.translation, 4), "centre": round(self.centre, 4)}


def measure_fit(
    subject: int, camera: int, raw_camera: dict[str, np.ndarray], joints_world_mm: np.ndarray,
    boxes_xywh: np.ndarray,
) -> ConventionFit:
    """Both readings of one camera's `t` (raw_camera: R, t, f, c as in the file) on sampled frames."""
    fractions = {
        camera_t: fraction_in_boxes(joints_world_mm, boxes_xywh, raw_camera["R"],
                                    translation_from_annotation(raw_camera["R"], raw_camera["t"], camera_t),
                                    raw_camera["f"], raw_camera["c"])
        for camera_t in CAMERA_T_CONVENTIONS
    }
    return ConventionFit(subject, camera, len(joints_world_mm), **fractions)


def check_camera_convention(fits: list[ConventionFit], camera_t: str, camera_file: str = "") -> None:
    """Raise CameraConventionError naming the cameras whose joints miss their boxes as configured."""
    wrong = [fit for fit in fits if fit.frames and not fit.fits(camera_t)]
    if not wrong:
        return
    other = "centre" if camera_t == "translation" else "translation"
    names = ", ".join(f"S{fit.subject} camera {fit.camera} ({fit.__getattribute__(camera_t):.0%} of "
                      f"{fit.frames} frames fit)" for fit in wrong)
    where = f" in {camera_file}" if camera_file else ""
    if all(fit.fits(other) for fit in wrong):
        meaning = {"translation": "X_cam = R @ X_world + t", "centre": "X_cam = R @ (X_world - t)"}
        raise CameraConventionError(
            f"camera convention: with dataset.camera_t = {camera_t!r} the annotated 3D joints fall outside the "
            f"person boxes for {names}{where}, but they fit when t is read as {other!r} ({meaning[other]}). "
            f"These annotation files use the {other} convention: set dataset.camera_t: {other}"
        )
    raise CameraConventionError(
        f"camera convention: the annotated 3D joints fall outside the person boxes for {names}{where} with "
        "either reading of the camera t (translation or centre); the camera, joint_3d and data files do not "
        "belong together or are corrupt"
    )

"""The four Human3.6M cameras: published intrinsics and per-subject extrinsics.

Values are those of the widely used Human3.6M metadata (as in VideoPose3D's
`h36m_dataset.py`): orientation is a (w, x, y, z) quaternion of the camera in the world
and translation its position in world millimetres. `camera_for` turns them into the
annotation convention `X_cam = R @ X_world + t` with intrinsics scaled to the image size.
The synthetic images are rendered with an ideal pinhole (no lens distortion), exactly as
the written (R, t, f, c) describe; the distortion values are kept for reference only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.datasets.h36m import Camera

# cam_idx -> published intrinsics of the 1000 x 1000(2) Human3.6M frames.
INTRINSICS: dict[int, dict] = {
    1: {"id": "54138969", "f": (1145.0494, 1143.7811), "c": (512.5415, 515.4515),
        "k": (-0.2071, 0.2479, -0.0031), "p": (-0.0010, -0.0002), "size": (1000, 1002)},
    2: {"id": "55011271", "f": (1149.6757, 1147.5917), "c": (508.8486, 508.0649),
        "k": (-0.1942, 0.2404, 0.0068), "p": (-0.0016, -0.0027), "size": (1000, 1000)},
    3: {"id": "58860488", "f": (1149.1407, 1148.7990), "c": (519.8159, 501.4026),
        "k": (-0.2083, 0.2555, -0.0025), "p": (0.0015, -0.0008), "size": (1000, 1000)},
    4: {"id": "60457274", "f": (1145.5114, 1144.7739), "c": (514.9682, 501.8820),
        "k": (-0.1984, 0.2183, -0.0089), "p": (-0.0006, -0.0018), "size": (1000, 1002)},
}

# subject -> per-camera (orientation quaternion w, x, y, z; position in world mm).
EXTRINSICS: dict[int, list[tuple[tuple[float, ...], tuple[float, ...]]]] = {
    1: [((0.14070565, -0.15007018, -0.75524080, 0.62232804), (1841.1071, 4955.2847, 1563.4454)),
        ((0.61571878, -0.76483631, -0.14833826, 0.11794741), (1761.2786, -5078.0068, 1606.2650)),
        ((0.14651473, -0.14647852, 0.76530236, -0.60941756), (-1846.7777, 5215.0464, 1491.9724)),
        ((0.58340085, -0.78531623, 0.14548823, -0.14749594), (-1794.7897, -3722.6990, 1574.8927))],
    5: [((0.14673772, -0.16237096, -0.75518930, 0.61789387), (2097.3916, 4880.9448, 1605.7324)),
        ((0.61597586, -0.76267922, -0.15728192, 0.11898150), (2031.7008, -5167.9331, 1612.9231)),
        ((0.14291371, -0.12907842, 0.76783848, -0.61101431), (-1620.5949, 5171.6587, 1496.4370)),
        ((0.59204799, -0.78142178, 0.12747486, -0.15036418), (-1637.1737, -3867.3174, 1547.0332))],
    6: [((0.13378978, -0.15692396, -0.75710905, 0.61988795), (1935.4518, 4950.2456, 1618.0839)),
        ((0.61471975, -0.76288128, -0.16174768, 0.11819245), (1969.8040, -5128.7388, 1632.7788)),
        ((0.15299481, -0.13529131, 0.76460963, -0.61127812), (-1769.5964, 5185.3613, 1476.9934)),
        ((0.59161013, -0.78047740, 0.12832271, -0.15615939), (-1721.6687, -3884.1313, 1540.4880))],
    7: [((0.14352418, -0.16313368, -0.75483286, 0.61888248), (1974.5129, 4926.3545, 1597.8326)),
        ((0.61416727, -0.76382625, -0.15966456, 0.11779299), (1937.0585, -5119.7900, 1631.5665)),
        ((0.14550060, -0.12874816, 0.76605165, -0.61271393), (-1741.8112, 5208.2495, 1464.8246)),
        ((0.59128481, -0.78217643, 0.12445474, -0.15196487), (-1734.7106, -3832.4214, 1548.5830))],
    8: [((0.14110588, -0.15589868, -0.75619173, 0.61964405), (2150.6519, 4896.1611, 1611.9047)),
        ((0.61696017, -0.76476681, -0.14846350, 0.11158158), (2219.9656, -5148.4531, 1613.0441)),
        ((0.14714441, -0.13377120, 0.76701283, -0.61003697), (-1571.2216, 5137.0186, 1498.1761)),
        ((0.59278244, -0.78258705, 0.12147816, -0.14631996), (-1476.9133, -3896.7412, 1547.9722))],
    9: [((0.15540588, -0.15548216, -0.75320953, 0.61995947), (2044.4585, 4935.1172, 1481.2275)),
        ((0.61878449, -0.76347351, -0.14132239, 0.11933968), (1990.9597, -5123.8105, 1568.8048)),
        ((0.13357827, -0.13671005, 0.76894546, -0.61007386), (-1670.9922, 5211.9858, 1528.3879)),
        ((0.58793992, -0.78234071, 0.14276144, -0.14794870), (-1696.0435, -3827.0999, 1591.4127))],
    11: [((0.15232472, -0.15442321, -0.75475633, 0.61910701), (2098.4402, 4926.5547, 1500.2786)),
         ((0.61894494, -0.76009172, -0.15300633, 0.12552583), (2083.1824, -4912.1729, 1561.0786)),
         ((0.14943229, -0.15650228, 0.76812339, -0.60263044), (-1609.8153, 5177.3359, 1537.8967)),
         ((0.58942515, -0.78188771, 0.13991211, -0.14715362), (-1590.7380, -3854.1689, 1578.0176))],
}


@dataclass(frozen=True)
class SyntheticCamera(Camera):
    """One camera of one subject at the rendered image size (annotation convention)."""

    cam_idx: int = 0

    @property
    def position_mm(self) -> np.ndarray:
        """Camera centre in world millimetres."""
        return -self.rotation.T @ self.translation_mm

    def to_json(self) -> dict:
        """The Human36M_subject{S}_camera.json entry: R (3x3), t (3, mm), f (2), c (2)."""
        return {
            "R": np.round(self.rotation, 8).tolist(),
            "t": np.round(self.translation_mm, 4).tolist(),
            "f": np.round(self.focal, 4).tolist(),
            "c": np.round(self.center, 4).tolist(),
        }


def quaternion_to_matrix(quaternion_wxyz: tuple[float, ...]) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> 3x3 rotation matrix (normalised first)."""
    w, x, y, z = np.asarray(quaternion_wxyz, dtype=np.float64) / np.linalg.norm(quaternion_wxyz)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def camera_for(subject: int, cam_idx: int, width: int, height: int) -> SyntheticCamera:
    """The published camera `cam_idx` (1..4) of `subject`, intrinsics scaled to width x height.

    The camera is stored in a form exactly representable by the rounded JSON values, so
    annotations reproduce the rendered projection to the written precision.
    """
    if subject not in EXTRINSICS:
        raise ValueError(f"no Human3.6M cameras for subject {subject}; known: {sorted(EXTRINSICS)}")
    if cam_idx not in INTRINSICS:
        raise ValueError(f"unknown cam_idx {cam_idx}; Human3.6M has 1..4")
    quaternion, position = EXTRINSICS[subject][cam_idx - 1]
    # The quaternion rotates camera axes into the world; the annotation R is its inverse.
    rotation = quaternion_to_matrix(quaternion).T
    translation = -rotation @ np.asarray(position, dtype=np.float64)
    intrinsics = INTRINSICS[cam_idx]
    native_w, native_h = intrinsics["size"]
    scale = np.array([width / native_w, height / native_h])
    focal = np.asarray(intrinsics["f"]) * scale
    center = np.asarray(intrinsics["c"]) * scale
    return SyntheticCamera(
        cam_idx=cam_idx,
        rotation=np.round(rotation, 8),
        translation_mm=np.round(translation, 4),
        focal=np.round(focal, 4),
        center=np.round(center, 4),
        width=width,
        height=height,
    )

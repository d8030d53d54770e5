"""Camera and crop conventions, pinned with the published Human3.6M camera of S1 (54138969)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d import geometry

# Published calibration of Human3.6M subject S1, camera 54138969 (as distributed with VideoPose3D).
S1_CAM1 = {
    "orientation": [0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088],
    "position_mm": [1841.1070556640625, 4955.28466796875, 1563.4454345703125],
    "focal": [1145.0494384765625, 1143.7811279296875],
    "center": [512.54150390625, 515.4514770507812],
    "radial": [-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043],
    "tangential": [-0.0009756988729350269, -0.00142447161488235],
}
# A standing pose near the middle of the capture volume, world mm (z up).
WORLD_POINTS = np.array([[-176.7, 321.0, 920.0], [-100.0, 300.0, 90.0], [-180.0, 330.0, 1650.0]])


def quaternion_rotate(q, v):
    """Rotate vector v by unit quaternion q = (w, x, y, z), written out independently of pose3d."""
    w, x, y, z = q
    qvec = np.array([x, y, z])
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2 * (w * uv + uuv)


def quaternion_to_matrix(q):
    return np.stack([quaternion_rotate(q, e) for e in np.eye(3)], axis=1)


def reference_projection(point_cam, cam):
    """Human3.6M's ProjectPointRadial for one point, scalar arithmetic."""
    x, y = point_cam[0] / point_cam[2], point_cam[1] / point_cam[2]
    r2 = x * x + y * y
    k1, k2, k3 = cam["radial"]
    p1, p2 = cam["tangential"]
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    xd = x * (radial + tan) + p1 * r2
    yd = y * (radial + tan) + p2 * r2
    return np.array([cam["focal"][0] * xd + cam["center"][0], cam["focal"][1] * yd + cam["center"][1]])


def s1_camera_extrinsics():
    """Human3.6M annotation form: X_cam = R @ X_world + t, from the quaternion and position."""
    q_inverse = np.array(S1_CAM1["orientation"]) * np.array([1, -1, -1, -1])
    rotation = quaternion_to_matrix(q_inverse)
    translation = -rotation @ np.array(S1_CAM1["position_mm"])
    return rotation, translation


def test_world_to_camera_matches_quaternion_form():
    rotation, translation = s1_camera_extrinsics()
    q_inverse = np.array(S1_CAM1["orientation"]) * np.array([1, -1, -1, -1])
    expected = np.stack([quaternion_rotate(q_inverse, p - S1_CAM1["position_mm"]) for p in WORLD_POINTS])
    got = geometry.world_to_camera(WORLD_POINTS, rotation, translation)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.all(got[:, 2] > 1000), "the subject stands metres in front of the camera (z forward)"
    np.testing.assert_allclose(geometry.camera_to_world(got, rotation, translation), WORLD_POINTS, atol=1e-6)


def test_projection_with_published_s1_camera():
    rotation, translation = s1_camera_extrinsics()
    points_cam = geometry.world_to_camera(WORLD_POINTS, rotation, translation)
    distorted = geometry.camera_to_pixel_distorted(
        points_cam, S1_CAM1["focal"], S1_CAM1["center"], S1_CAM1["radial"], S1_CAM1["tangential"]
    )
    expected = np.stack([reference_projection(p, S1_CAM1) for p in points_cam])
    np.testing.assert_allclose(distorted, expected, atol=1e-6)
    assert np.all((distorted > 0) & (distorted < 1000)), "the pose is inside the 1000x1002 image"
    pinhole = geometry.camera_to_pixel(points_cam, S1_CAM1["focal"], S1_CAM1["center"])
    manual = np.array(S1_CAM1["focal"]) * points_cam[:, :2] / points_cam[:, 2:] + S1_CAM1["center"]
    np.testing.assert_allclose(pinhole, manual, atol=1e-9)
    # y down: the head (higher in the world) is above the feet in the image.
    assert pinhole[2, 1] < pinhole[1, 1]


def test_zero_distortion_equals_pinhole_and_torch_matches_numpy():
    points = np.random.default_rng(0).uniform([-500, -500, 2000], [500, 500, 6000], size=(4, 17, 3))
    focal, center = np.array([[1000.0, 990.0]] * 4), np.array([[500.0, 490.0]] * 4)
    pinhole = geometry.camera_to_pixel(points, focal, center)
    np.testing.assert_allclose(
        geometry.camera_to_pixel_distorted(points, focal, center, np.zeros((4, 3)), np.zeros((4, 2))), pinhole
    )
    as_torch = geometry.camera_to_pixel(torch.tensor(points), torch.tensor(focal), torch.tensor(center))
    np.testing.assert_allclose(as_torch.numpy(), pinhole, rtol=1e-12)


def test_pixel_depth_round_trip_is_exact():
    rng = np.random.default_rng(1)
    points = rng.uniform([-800, -900, 1500], [800, 900, 7000], size=(3, 17, 3))
    focal, center = rng.uniform(500, 1500, (3, 2)), rng.uniform(200, 600, (3, 2))
    pixels = geometry.camera_to_pixel(points, focal, center)
    back = geometry.pixel_to_camera(pixels, points[..., 2], focal, center)
    np.testing.assert_allclose(back, points, rtol=1e-12)
    np.testing.assert_allclose(geometry.camera_to_pixel(back, focal, center), pixels, rtol=1e-12)


def test_crop_transforms_round_trip_and_match_warp_matrix():
    crop = geometry.square_crop_from_box(np.array([100.0, 50.0, 180.0, 250.0]), output_size=64, padding=1.25)
    side = 1.25 * 200
    np.testing.assert_allclose(crop, [140 - side / 2, 150 - side / 2, side / 64], rtol=1e-6)
    pixels = np.array([[120.0, 60.0], [170.0, 240.0]])
    in_crop = geometry.image_to_crop(pixels, crop)
    np.testing.assert_allclose(geometry.crop_to_image(in_crop, crop), pixels, rtol=1e-6)
    matrix = geometry.crop_affine(crop)
    np.testing.assert_allclose(pixels @ matrix[:, :2].T + matrix[:, 2], in_crop, rtol=1e-5)


def test_crop_intrinsics_project_into_crop_pixels():
    rng = np.random.default_rng(2)
    points = rng.uniform([-300, -300, 3000], [300, 300, 5000], size=(17, 3))
    intrinsics = np.array([1145.0, 1143.8, 512.5, 515.5])
    crop = np.array([300.0, 200.0, 3.5])
    crop_k = geometry.crop_intrinsics(intrinsics, crop)
    direct = geometry.camera_to_pixel(points, crop_k[:2], crop_k[2:])
    via_image = geometry.image_to_crop(geometry.camera_to_pixel(points, intrinsics[:2], intrinsics[2:]), crop)
    np.testing.assert_allclose(direct, via_image, rtol=1e-9)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("use_torch", [False, True])
def test_procrustes_recovers_a_known_similarity(use_torch):
    rng = np.random.default_rng(3)
    target = rng.normal(size=(5, 17, 3)) * 300
    rotations = np.stack([random_rotation(rng) for _ in range(5)])
    scales = rng.uniform(0.5, 2.0, size=5)
    shifts = rng.normal(size=(5, 1, 3)) * 1000
    # predicted = s * R @ target + shift; alignment must undo it exactly.
    predicted = scales[:, None, None] * target @ np.swapaxes(rotations, -1, -2) + shifts
    if use_torch:
        aligned = geometry.procrustes_align(torch.tensor(predicted), torch.tensor(target)).numpy()
    else:
        aligned = geometry.procrustes_align(predicted, target)
    np.testing.assert_allclose(aligned, target, atol=1e-6)


def test_procrustes_never_uses_a_reflection():
    rng = np.random.default_rng(4)
    target = rng.normal(size=(17, 3)) * 300
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    aligned = geometry.procrustes_align(mirrored, target)
    assert np.linalg.norm(aligned - target, axis=-1).mean() > 10.0


def test_rotation_about_axis_is_a_proper_rotation():
    matrix = geometry.rotation_about_axis([0, 0, 1], np.pi / 2)
    np.testing.assert_allclose(matrix @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    assert np.isclose(np.linalg.det(matrix), 1.0)

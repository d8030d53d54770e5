"""Real photos through a real pretrained detector, offline: MediaPipe BlazePose + the keypoint lifter.

The photos are the two that ship inside the ultralytics package (assets/bus.jpg: a man walking
towards the camera; assets/zidane.jpg: two men, the one MediaPipe finds faces the camera). The
checks are what a person looking at the result would check: keypoints on the body, 3D finite,
bones of human length, left and right not swapped, panels written.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pose3d import skeleton
from pose3d.cli import main as cli_main
from pose3d.inference.outputs import validate_result
from pose3d.metrics import pa_mpjpe
from pose3d.perception import Frame, build_keypoint_backend
from pose3d.perception.mediapipe_pose import COCO_FROM_BLAZEPOSE, MediaPipeKeypoints, world_to_h36m_mm

PHOTOS = ("bus.jpg", "zidane.jpg")
COCO = skeleton.COCO17
H36M = skeleton.H36M17
# Adult bone lengths (mm), generous bounds: a bone outside them is not a human's.
BONE_RANGES_MM = {
    ("r_hip", "r_knee"): (250, 650), ("l_hip", "l_knee"): (250, 650),
    ("r_knee", "r_ankle"): (250, 650), ("l_knee", "l_ankle"): (250, 650),
    ("l_shoulder", "l_elbow"): (150, 450), ("r_shoulder", "r_elbow"): (150, 450),
    ("l_elbow", "l_wrist"): (120, 400), ("r_elbow", "r_wrist"): (120, 400),
    ("pelvis", "r_hip"): (50, 250), ("pelvis", "l_hip"): (50, 250),
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from ultralytics.utils import ASSETS

    folder = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(ASSETS / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def mediapipe_backend():
    backend = MediaPipeKeypoints(confidence=0.25)  # the config default
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def lifter_checkpoint(tmp_path_factory):
    from pose3d.testing.lifter import train_tiny_lifter

    # 4000 steps: after 2000 its pelvis sat 48-59 mm from a hip on these photos on one machine (the bone
    # check's floor is 50), the float rounding of another CPU deciding; after 4000, 87-189 mm.
    return train_tiny_lifter(tmp_path_factory.mktemp("lifter"), steps=4000)


def _read(path):
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def test_blazepose_to_coco_mapping_names_the_same_joints():
    blazepose_names = {0: "nose", 2: "l_eye", 5: "r_eye", 7: "l_ear", 8: "r_ear", 11: "l_shoulder", 12: "r_shoulder",
                       13: "l_elbow", 14: "r_elbow", 15: "l_wrist", 16: "r_wrist", 23: "l_hip", 24: "r_hip",
                       25: "l_knee", 26: "r_knee", 27: "l_ankle", 28: "r_ankle"}
    assert [blazepose_names[index] for index in COCO_FROM_BLAZEPOSE] == list(COCO.joint_names)
    world = np.random.default_rng(0).normal(size=(33, 3))
    h36m = world_to_h36m_mm(world)
    assert h36m.shape == (17, 3) and np.allclose(h36m[0], 0.0)
    assert np.allclose(h36m[H36M.index("l_knee")] - h36m[H36M.index("r_knee")], 1000 * (world[25] - world[26]), atol=1e-3)


@pytest.mark.parametrize("photo", PHOTOS)
def test_mediapipe_finds_a_person_on_a_real_photo(photos, mediapipe_backend, photo):
    image = _read(photos / photo)
    (found,) = mediapipe_backend([Frame(image, photos / photo)])
    assert len(found) == 1 and found.keypoints.shape == (1, 17, 3) and found.world_mm.shape == (1, 17, 3)
    keypoints, box = found.keypoints[0], found.boxes_xyxy[0]
    height, width = image.shape[:2]
    assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
    seen = keypoints[:, 2] > 0.5
    assert seen[[COCO.index(n) for n in ("nose", "l_shoulder", "r_shoulder", "l_hip", "r_hip")]].all()
    # Keypoints on the body: every confident one inside the person box (a few pixels of slack).
    inside = ((keypoints[seen, 0] >= box[0] - 5) & (keypoints[seen, 0] <= box[2] + 5)
              & (keypoints[seen, 1] >= box[1] - 5) & (keypoints[seen, 1] <= box[3] + 5))
    assert inside.all(), keypoints[seen]
    # An upright person: head above shoulders above hips (image y grows downwards).
    y = keypoints[:, 1]
    assert y[COCO.index("nose")] < y[COCO.index("l_shoulder")] < y[COCO.index("l_hip")]
    # Both men face the camera: their left shoulder and hip are on the image's right.
    x = keypoints[:, 0]
    assert x[COCO.index("l_shoulder")] > x[COCO.index("r_shoulder")]
    assert x[COCO.index("l_hip")] > x[COCO.index("r_hip")]


def test_mediapipe_per_person_box_lands_on_the_same_body(photos, mediapipe_backend):
    """With the person box given (as the dataset or a detector gives it), the crop's keypoints map back to the photo."""
    image = _read(photos / "bus.jpg")
    (whole,) = mediapipe_backend([Frame(image, None)])
    box = whole.boxes_xyxy[0]
    (boxed,) = mediapipe_backend([Frame(image, None, bbox_xyxy=box)])
    assert len(boxed) == 1 and np.array_equal(boxed.boxes_xyxy[0], box.astype(np.float32))
    seen = (whole.keypoints[0, :, 2] > 0.5) & (boxed.keypoints[0, :, 2] > 0.5)
    error = np.linalg.norm(whole.keypoints[0, seen, :2] - boxed.keypoints[0, seen, :2], axis=-1)
    assert np.median(error) < 0.05 * (box[3] - box[1]), error


def test_mediapipe_factory_and_config(tmp_path):
    from pose3d.config import config_from_dict
    from pose3d.perception import keypoint_backend_from_config
    from pose3d.perception.error_models import perception_inputs
    from pose3d.testing.config import tiny_config_dict

    config = config_from_dict(tiny_config_dict(tmp_path, perception={"keypoints": {"backend": "mediapipe"}}))
    backend = keypoint_backend_from_config(config)
    assert backend.name == "mediapipe" and backend.layout == "coco17" and backend.person_detector is None
    backend.close()
    assert "MediaPipe" in perception_inputs(config.perception)["keypoints"]
    with pytest.raises(Exception, match="person boxes"):
        build_keypoint_backend("mediapipe", person_boxes="everyone")


def test_preprocess_with_mediapipe(tiny_synthetic, tmp_path):
    """`perception.keypoints.backend: mediapipe` runs in preprocess; a render nobody is found on is counted, not faked."""
    from pose3d.config import config_from_dict
    from pose3d.datasets.layout import SequenceId
    from pose3d.preprocess import STATUS_OK, preprocess_sequence
    from pose3d.testing.config import tiny_config_dict

    root, _ = tiny_synthetic
    config = config_from_dict(tiny_config_dict(root, perception={"keypoints": {"backend": "mediapipe"}}))
    report = preprocess_sequence(config, SequenceId(1, 2, 1, 1).name, tmp_path / "out.h5", tmp_path / "out.json")
    import h5py

    with h5py.File(tmp_path / "out.h5", "r") as handle:
        assert handle.attrs["keypoints_layout"] == "coco17" and handle.attrs["keypoints_backend"] == "mediapipe"
        ok = handle["status"][()] == STATUS_OK
        assert np.all(np.isfinite(handle["keypoints_2d"][()][ok]))
    assert report["frames_seen"] == 4 and report["frames_kept"] == int(ok.sum())


def _bones_in_range(joints_mm: np.ndarray, keypoints_h36m: np.ndarray) -> list[str]:
    """Bones (both ends seen in 2D) whose 3D length is outside `BONE_RANGES_MM`; empty when all are human."""
    wrong = []
    for (a, b), (low, high) in BONE_RANGES_MM.items():
        ia, ib = H36M.index(a), H36M.index(b)
        if min(keypoints_h36m[ia, 2], keypoints_h36m[ib, 2]) < 0.5:
            continue
        length = float(np.linalg.norm(joints_mm[ia] - joints_mm[ib]))
        if not low <= length <= high:
            wrong.append(f"{a}-{b} {length:.0f} mm")
    return wrong


def test_pose3d_infer_on_a_folder_of_real_photos(photos, lifter_checkpoint, tmp_path):
    """`pose3d infer --keypoints-backend mediapipe --depth-backend none` with the lifter on real photos."""
    out = tmp_path / "out"
    code = cli_main([
        "infer", "--checkpoint", str(lifter_checkpoint), "--input", str(photos), "--output", str(out),
        "--keypoints-backend", "mediapipe", "--depth-backend", "none", "--device", "cpu", "--visualize",
    ])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_processed"] == 2 and summary["people_found"] == 2
    agreement = {photo: json.loads((out / f"{photo}.json").read_text())["people"][0]["reprojection"] for photo in PHOTOS}
    # The whole body on bus.jpg lands on its 2D keypoints; zidane.jpg's man, legs cut off by the frame, less well.
    assert not agreement["bus.jpg"]["doubtful"] and agreement["zidane.jpg"]["of_size"] > agreement["bus.jpg"]["of_size"]
    assert summary["people_doubtful"] == sum(value["doubtful"] for value in agreement.values())
    for photo in PHOTOS:
        name = photo  # outputs keep the extension: bus.jpg.npy
        result = json.loads((out / f"{name}.json").read_text())
        validate_result(result)
        assert result["intrinsics"]["source"] == "default_fov"  # these photos carry no EXIF focal length
        assert (out / "panels" / f"{name}.png").stat().st_size > 10_000
        joints = np.load(out / f"{name}.npy")
        assert joints.shape == (1, 17, 3) and np.all(np.isfinite(joints))
        person = result["people"][0]
        keypoints_coco = np.asarray(person["keypoints_2d"]["points"])
        keypoints_h36m = skeleton.coco_to_h36m(keypoints_coco)
        assert not _bones_in_range(joints[0], keypoints_h36m), _bones_in_range(joints[0], keypoints_h36m)
        # In front of the camera, at a person's distance.
        assert 1000 < joints[0, 0, 2] < 20000
        # Left/right: a man facing the camera has his left shoulder at larger x in the image and in 3D.
        for joint in ("shoulder", "hip"):
            left_2d, right_2d = keypoints_coco[COCO.index(f"l_{joint}"), 0], keypoints_coco[COCO.index(f"r_{joint}"), 0]
            left_3d, right_3d = joints[0, H36M.index(f"l_{joint}"), 0], joints[0, H36M.index(f"r_{joint}"), 0]
            assert (left_2d > right_2d) and (left_3d > right_3d), (photo, joint, left_2d, right_2d, left_3d, right_3d)
        # The lifter agrees with MediaPipe's own 3D up to a similarity (a consistency check, not ground truth).
        peer = np.asarray(person["mediapipe_world_mm"])
        disagreement = float(pa_mpjpe((joints[0] - joints[0, 0])[None], peer[None])[0])
        assert np.isfinite(disagreement) and disagreement < 200.0, disagreement
    assert (out / "contact_sheet.png").is_file()


def test_pose3d_infer_on_an_iphone_heic_photo(photos, lifter_checkpoint, tmp_path):
    """A HEIC photo (an iPhone's default format) with its EXIF focal length: read upright, the same person
    found as in the JPEG it was made from, and the focal length taken from its EXIF."""
    from pose3d.testing.heic import heic_from_jpeg

    heic = heic_from_jpeg(photos / "bus.jpg", tmp_path / "phone" / "IMG_0001.HEIC", {0xA405: 26})
    results = {}
    for name, inputs in (("heic", heic), ("jpeg", photos / "bus.jpg")):
        out = tmp_path / name
        code = cli_main(["infer", "--checkpoint", str(lifter_checkpoint), "--input", str(inputs), "--output", str(out),
                         "--keypoints-backend", "mediapipe", "--depth-backend", "none", "--device", "cpu"])
        assert code == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["images_processed"] == 1 and summary["people_found"] == 1, summary
        results[name] = json.loads((out / f"{inputs.name}.json").read_text())  # outputs keep the extension
    heic_result, jpeg_result = results["heic"], results["jpeg"]
    assert heic_result["intrinsics"]["source"] == "exif_35mm" and jpeg_result["intrinsics"]["source"] == "default_fov"
    ours = np.asarray(heic_result["people"][0]["keypoints_2d"]["points"])[:, :2]
    theirs = np.asarray(jpeg_result["people"][0]["keypoints_2d"]["points"])[:, :2]
    assert np.median(np.linalg.norm(ours - theirs, axis=1)) < 8.0  # px, on a 810 x 1080 photo


def test_mediapipe_runs_once_per_yolo_person_box(photos, tmp_path):
    """`person_boxes: yolo`: YOLO's boxes (a tiny random-weight model here) choose where MediaPipe looks."""
    from pose3d.testing.tiny_models import save_tiny_yolo_pose

    weights = save_tiny_yolo_pose(tmp_path / "pose.pt")
    backend = build_keypoint_backend("mediapipe", weights=weights, confidence=0.0, device="cpu", person_boxes="yolo")
    try:
        image = _read(photos / "bus.jpg")
        frame = Frame(image, None)
        yolo_boxes = backend.person_detector([frame])[0].boxes_xyxy
        (found,) = backend([frame])
    finally:
        backend.close()
    assert len(found) <= len(yolo_boxes)
    for box in found.boxes_xyxy:  # every person reported sits in one of YOLO's boxes
        assert np.any(np.all(np.isclose(yolo_boxes, box), axis=1))

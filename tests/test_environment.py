"""One virtualenv holds the whole stack: OpenCV, protobuf, numpy, torch, ultralytics, TensorBoard, mediapipe, h5py, timm.

mediapipe 0.10.14 (the last wheel with BlazePose's weights inside) needs protobuf<5; TensorBoard
2.21 needs protobuf>=6.31, hence the pins in pyproject.toml. A subprocess imports everything
together, as a fresh interpreter would, and TensorBoard writes and reads back an event file.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

CV2_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")

IMPORT_ALL = """
import cv2, numpy, torch, ultralytics, tensorboard, mediapipe, h5py, timm, google.protobuf, scipy
from mediapipe.python.solutions import pose
from torch.utils.tensorboard import SummaryWriter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
import sys, tempfile
folder = tempfile.mkdtemp()
writer = SummaryWriter(folder)
writer.add_scalar("loss", 0.5, 1)
writer.close()
events = EventAccumulator(folder)
events.Reload()
assert [e.value for e in events.Scalars("loss")] == [0.5]
print(cv2.__version__, numpy.__version__, google.protobuf.__version__, mediapipe.__version__, tensorboard.__version__)
"""


def test_the_whole_stack_imports_together_and_tensorboard_works():
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    cv2_version, _, protobuf_version, mediapipe_version, _ = result.stdout.split()[-5:]
    assert mediapipe_version == "0.10.14"
    assert int(protobuf_version.split(".")[0]) == 4


def test_every_installed_opencv_distribution_is_one_version():
    """opencv-python (ultralytics), -headless (pose3d) and -contrib-python (mediapipe) all write the same
    cv2 package: only one version of them keeps cv2 consistent whichever was installed last."""
    versions = {}
    for name in CV2_DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    if not versions:
        pytest.fail("no OpenCV distribution installed")
    assert len(set(versions.values())) == 1, f"OpenCV distributions of different versions share cv2: {versions}"


def test_blazepose_weights_ship_inside_the_mediapipe_wheel():
    import mediapipe

    root = Path(mediapipe.__file__).parent / "modules"
    for model in ("pose_detection/pose_detection.tflite", "pose_landmark/pose_landmark_full.tflite"):
        assert (root / model).is_file(), f"{root / model} missing: mediapipe must be 0.10.14 (weights in the wheel)"

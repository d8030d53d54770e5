"""The size of the evaluation protocol: every annotated frame of the test subjects, at their frame step.

The figures a paper reports cover all of them (Human3.6M: S9 and S11, every 64th frame, or every
frame). Frames can go missing on the way to the test shards without failing a job: a folder the
local copy of the release lacks (a partial download), an unreadable image, a frame without depth.
Evaluation compares the samples it scored with this count, so a figure on part of the protocol
says so instead of passing for the whole.
"""

from __future__ import annotations

from pose3d.config import Config
from pose3d.datasets.catalog import SKIP_NO_IMAGES, DatasetPlan
from pose3d.datasets.frame_steps import frame_step_for_subject
from pose3d.datasets.layout import SequenceId


def frames_at_step(count: int, step: int) -> int:
    """Frames among 0..count-1 whose index is a multiple of `step`, the ones the readers keep."""
    return -(-int(count) // int(step))


def annotated_frames(plan: DatasetPlan) -> dict[str, int]:
    """Annotated frames of every sequence the configuration asks for: processed, or skipped for lack of images."""
    missing = {entry["sequence"]: int(entry["frames"]) for entry in plan.skipped
               if entry.get("reason") == SKIP_NO_IMAGES and "frames" in entry}
    return {**missing, **plan.frames}


def protocol_frames(config: Config, plan: DatasetPlan) -> int:
    """Frames the test subjects' annotations list at the test frame step (`split.test_subjects`)."""
    test = set(config.split.test_subjects)
    total = 0
    for name, count in annotated_frames(plan).items():
        subject = SequenceId.parse(name).subject
        if subject in test:
            total += frames_at_step(count, frame_step_for_subject(config, subject))
    return total

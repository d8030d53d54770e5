"""Evaluation says which share of the protocol's test frames its figures cover.

Frames can go missing on the way to the test shards without a failed job (a folder a partial
download lacks, an unreadable image). A figure on part of the protocol must say so.
"""

from __future__ import annotations

import json

import pytest

from pose3d.config import config_from_dict
from pose3d.datasets.catalog import SKIP_NO_ANNOTATIONS, SKIP_NO_IMAGES, DatasetPlan, plan_for_config
from pose3d.datasets.layout import SequenceId
from pose3d.datasets.protocol import frames_at_step, protocol_frames
from pose3d.evaluate.run import evaluate_checkpoint
from pose3d.run_summary import summarize as run_summary
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import write_shards
from pose3d.testing.tiny_models import untrained_checkpoint


def test_frames_at_step_counts_the_frames_the_readers_keep():
    for count in (1, 7, 64, 65, 1383):
        for step in (1, 5, 64):
            assert frames_at_step(count, step) == sum(1 for index in range(count) if index % step == 0)


def test_protocol_counts_test_subjects_at_their_step_and_folders_the_copy_lacks(tmp_path):
    config = config_from_dict(tiny_config_dict(
        tmp_path, dataset={"subjects": [1, 9, 11], "frame_step": 5, "test_frame_step": 64}, split={"train_subjects": [1], "test_subjects": [9, 11]},
    ))
    plan = DatasetPlan(
        sequences=[SequenceId(1, 2, 1, 1).name, SequenceId(9, 2, 1, 1).name, SequenceId(11, 2, 1, 1).name],
        frames={SequenceId(1, 2, 1, 1).name: 1000, SequenceId(9, 2, 1, 1).name: 1000, SequenceId(11, 2, 1, 1).name: 640},
        skipped=[
            # Annotated, but this copy of the release has no images: still part of the protocol.
            {"sequence": SequenceId(11, 2, 1, 2).name, "reason": SKIP_NO_IMAGES, "frames": 129, "detail": "no folder"},
            # An image folder the annotations do not list: never part of it.
            {"sequence": SequenceId(9, 3, 1, 1).name, "reason": SKIP_NO_ANNOTATIONS, "detail": "unlisted"},
            # The release's empty, unannotated folder: neither.
            {"sequence": SequenceId(11, 2, 2, 1).name, "reason": SKIP_NO_IMAGES, "detail": "empty and unlisted"},
        ],
    )
    assert protocol_frames(config, plan) == 16 + 10 + 3  # ceil(1000 / 64), ceil(640 / 64), ceil(129 / 64)


def test_synthetic_plan_lists_every_configured_sequence_with_its_frames(tmp_path):
    config = config_from_dict(tiny_config_dict(tmp_path, dataset={"test_frame_step": 4}))
    plan = plan_for_config(config)
    assert len(plan.sequences) == 2 * 2 * 1 * 2 and set(plan.frames.values()) == {8}  # subjects x actions x cameras
    assert protocol_frames(config, plan) == 2 * 2 * 8 // 4  # S9's four sequences, every 4th of 8 frames


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol")
    train = write_shards(root / "train", 1, 8, subject=1)
    test = write_shards(root / "test", 1, 10, subject=9, seed=70)
    config = config_from_dict(tiny_config_dict(root / "unused"))
    untrained_checkpoint(config, "lifter", train, test, root / "model")
    return root, config, train, test


@pytest.mark.parametrize(("frames", "said"), [(10, "all 10 test frames of the protocol"),
                                              (12, "**10 of the protocol's 12** test frames (83.3 %)")])
def test_metrics_say_how_much_of_the_protocol_the_figures_cover(evaluation, frames, said):
    root, config, train, test = evaluation
    out = root / f"results_{frames}" / "eval" / "lifter"
    results = evaluate_checkpoint(root / "model" / "best.pt", test, train, out, config, protocol_frames=frames)
    protocol = json.loads((out / "metrics.json").read_text())["protocol"]
    assert protocol == results["protocol"] and (protocol["frames"], protocol["evaluated"]) == (frames, 10)
    assert protocol["coverage"] == pytest.approx(10 / frames, abs=1e-4)
    assert said in (out / "metrics.md").read_text()
    check = results["reprojection_check"]  # inference's doubt flag, measured on the test samples
    assert check["samples"] == 10 and check["median"] <= check["p90"] <= check["p99"]
    assert 0 <= check["doubtful"] <= 10 and "Reprojection check" in (out / "metrics.md").read_text()
    line = next(line for line in run_summary(out.parent.parent) if line.startswith("eval lifter"))
    assert ("on 10 of the protocol's 12 test frames" in line) == (frames == 12)


def test_without_a_protocol_size_nothing_is_claimed(evaluation):
    root, config, train, test = evaluation
    results = evaluate_checkpoint(root / "model" / "best.pt", test, train, root / "unknown", config)
    assert results["protocol"] is None and "Frames:" not in (root / "unknown" / "metrics.md").read_text()

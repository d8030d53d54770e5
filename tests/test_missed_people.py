"""Frames whose subject the detector missed: never a wrong person, never trained on, always evaluated.

The Human3.6M protocol evaluates every frame. A detector that misses the hard frames (a subject
lying on the floor) and a pipeline that drops them would report a flattering figure on fewer frames.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from pose3d.chunk import chunk_subject
from pose3d.config import config_from_dict
from pose3d.datasets.layout import SequenceId
from pose3d.evaluate.run import evaluate_checkpoint
from pose3d.preprocess import STATUS_NO_PERSON, STATUS_OK, preprocess_sequence
from pose3d.run_summary import summarize as run_summary
from pose3d.shards import schema
from pose3d.shards.holdout import split_train_val_test
from pose3d.shards.reader import ShardReader
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import sample_keys, write_preprocessed, write_shards
from pose3d.testing.tiny_models import untrained_checkpoint

SEQUENCE = SequenceId(1, 2, 1, 1).name


def _read(path):
    with h5py.File(path, "r") as handle:
        return {name: handle[name][()] for name in ("status", "keypoints_2d", "box", "crop", "depth", "person_score")}


def test_a_missed_subject_keeps_its_annotated_crop_without_keypoints(tiny_synthetic, tmp_path):
    root, _ = tiny_synthetic
    arrays = {}
    for miss_prob in (0.0, 0.5):
        config = config_from_dict(tiny_config_dict(root, perception={"keypoints": {"miss_prob": miss_prob}}))
        report = preprocess_sequence(config, SEQUENCE, tmp_path / f"{miss_prob}.h5", tmp_path / f"{miss_prob}.json")
        arrays[miss_prob] = _read(tmp_path / f"{miss_prob}.h5")
    found, missed_run = arrays[0.0], arrays[0.5]
    assert np.all(found["status"] == STATUS_OK)
    missed = missed_run["status"] == STATUS_NO_PERSON
    assert 0 < missed.sum() < len(missed), missed_run["status"]  # this seed misses some frames, not all
    assert set(missed_run["status"].tolist()) == {STATUS_OK, STATUS_NO_PERSON}
    assert report["frames_missed_kept_for_evaluation"] == int(missed.sum())
    assert report["skipped"]["no_person"]["count"] == int(missed.sum())
    assert report["frames_kept"] == len(missed) - int(missed.sum())
    # The groundtruth backend's box is the annotated one: a missed frame is cropped exactly where a found one is.
    for name in ("box", "crop", "depth"):
        np.testing.assert_array_equal(missed_run[name][missed], found[name][missed], err_msg=name)
    assert np.all(missed_run["keypoints_2d"][missed] == 0) and np.all(missed_run["person_score"][missed] == 0)
    assert np.all(missed_run["keypoints_2d"][~missed][..., 2] > 0)


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    """Chunks of S1 (two takes per action: one trains, one validates) and S9, some subjects missed."""
    tmp = tmp_path_factory.mktemp("missed")
    root = tmp / "data"
    config = config_from_dict(tiny_config_dict(root, shards={"image_size": 16, "depth_size": 8}))
    paths, reports = [], {}
    for subject in (1, 9):
        files = [
            write_preprocessed(root, tmp / "pre", SequenceId(subject, action, subaction, 1), list(range(0, 12, 2)),
                               depth_size=8, missed=(2, 6), bad_status=(10,))
            for action in (2, 14) for subaction in (1, 2)
        ]
        paths.append(tmp / f"S{subject}.h5")
        reports[subject] = chunk_subject(config, subject, files, paths[-1])
    return paths, reports


def test_chunk_writes_missed_subjects_as_samples_without_keypoints(chunks):
    paths, reports = chunks
    for report in reports.values():
        # 4 sequences x 6 frames: frame 10 has no crop (skipped), frames 2 and 6 were missed (kept).
        assert (report.frames_seen, report.samples, report.samples_without_person) == (24, 20, 8)
        assert report.skipped == {"preprocess_no_person": 4}
    with ShardReader(paths[0]) as reader:
        data = reader.read()
    detected = schema.person_detected(data[schema.KEYPOINTS_2D])
    assert sorted(set(data[schema.FRAME][~detected].tolist())) == [2, 6]
    assert np.all(data[schema.KEYPOINTS_2D][~detected] == 0)
    assert np.all(np.isfinite(data[schema.CROP])) and np.all(np.isfinite(data[schema.DEPTH].astype(np.float32)))


def test_split_trains_on_found_subjects_only_and_validates_and_tests_on_every_frame(chunks, tmp_path):
    paths, _ = chunks
    outputs = {name: [tmp_path / name / "shard_00000.h5"] for name in ("train", "val", "test")}
    split_train_val_test(paths, [1], [9], 0.5, outputs)

    def keys_and_found(name):
        with ShardReader(outputs[name][0]) as reader:
            found = schema.person_detected(reader.read(datasets=[schema.KEYPOINTS_2D])[schema.KEYPOINTS_2D])
        return sample_keys(outputs[name]), found

    (train, train_found), (val, val_found), (test, test_found) = (keys_and_found(n) for n in ("train", "val", "test"))
    assert train_found.all() and len(train) == 2 * 3  # one take per action trains, three found frames each
    assert (~val_found).sum() == 4 and len(val) == 2 * 5  # the other take validates, every frame of it
    assert (~test_found).sum() == 8 and len(test) == 20 == len(sample_keys([paths[1]]))
    assert not {k[:3] for k in train} & {k[:3] for k in val}


def test_evaluation_counts_every_frame_and_says_how_many_were_missed(tmp_path):
    train = write_shards(tmp_path / "train", 1, 8, subject=1)
    test = write_shards(tmp_path / "test", 1, 12, subject=9, seed=70)
    with h5py.File(test[0], "r+") as handle:  # the subject of four test frames was missed
        keypoints = handle[schema.KEYPOINTS_2D][()]
        keypoints[[1, 4, 7, 10]] = 0.0
        handle[schema.KEYPOINTS_2D][...] = keypoints
    config = config_from_dict(tiny_config_dict(tmp_path / "unused"))
    untrained_checkpoint(config, "lifter", train, test, tmp_path / "model")

    results = evaluate_checkpoint(tmp_path / "model" / "best.pt", test, train, tmp_path / "results" / "eval" / "lifter", config)
    missed = results["people_missed"]
    assert results["num_samples"] == 12 and missed["samples"] == 4 and missed["included_in_figures"]
    assert sum(missed["per_action"].values()) == 4
    others = missed["mpjpe_over_the_others"]
    assert others is not None and np.isfinite(others) and others != pytest.approx(results["model"]["all_samples"]["mpjpe"])
    assert json.loads((tmp_path / "results" / "eval" / "lifter" / "metrics.json").read_text())["people_missed"] == missed
    table = (tmp_path / "results" / "eval" / "lifter" / "metrics.md").read_text()
    assert "missed the subject in **4** of 12 samples" in table
    line = next(line for line in run_summary(tmp_path / "results") if line.startswith("eval lifter"))
    assert "subject missed in 4 of 12 samples (included;" in line

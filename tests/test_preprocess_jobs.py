"""Packing a subject's sequences into preprocess jobs (perception.frames_per_job)."""

from __future__ import annotations

import pytest

from pose3d.datasets.layout import SequenceId, sequence_ids
from pose3d.preprocess_jobs import load_share, pack_sequences


def _counts(frames: int) -> dict[str, int]:
    return {seq.name: frames for seq in sequence_ids([1, 9], [2, 3, 4], [1, 2], [1, 2, 3, 4])}


def test_every_sequence_is_in_exactly_one_job_of_its_subject():
    counts = _counts(1000)
    jobs = pack_sequences(counts, {1: 5, 9: 64}, frames_per_job=1000)
    names = [name for job in jobs for name in job.sequences]
    assert sorted(names) == sorted(counts)
    for job in jobs:
        assert {SequenceId.parse(name).subject for name in job.sequences} == {job.subject}
    assert len({job.name for job in jobs}) == len(jobs)


def test_job_size_follows_the_subjects_frame_step():
    jobs = pack_sequences(_counts(1000), {1: 5, 9: 64}, frames_per_job=1000)
    train = [job for job in jobs if job.subject == 1]
    test = [job for job in jobs if job.subject == 9]
    assert all(job.frames >= 1000 for job in train[:-1])  # 5 sequences of 200 frames each
    assert train[-1].frames >= 500  # a remainder of at least half a job stands alone
    assert [len(job.sequences) for job in train] == [5, 5, 5, 5, 4]
    assert len(test) == 1 and test[0].frames == 24 * 16  # the remainder joins: one job for the test subject
    first = [SequenceId.parse(name) for name in train[0].sequences]
    assert {seq.camera for seq in first} == {1}  # sorted by camera first


def test_a_small_remainder_joins_the_previous_job():
    jobs = pack_sequences(_counts(1000), {1: 5, 9: 64}, frames_per_job=1300)
    train = [job for job in jobs if job.subject == 1]
    # 7 sequences of 200 frames per job, 3 left (600 < 650): they join the last job
    assert [len(job.sequences) for job in train] == [7, 7, 10]


def test_pack_rejects_zero_and_load_share():
    with pytest.raises(ValueError, match="frames_per_job"):
        pack_sequences(_counts(10), {1: 1, 9: 1}, 0)
    assert load_share(10.0, 0.1, 900) == pytest.approx(0.1)


def test_one_job_loads_the_networks_once_and_writes_what_single_jobs_write(tiny_synthetic, tmp_path):
    import h5py
    import numpy as np

    from pose3d.config import config_from_dict
    from pose3d.preprocess import preprocess_sequence, preprocess_sequences
    from pose3d.testing.config import tiny_config_dict
    from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

    root, _ = tiny_synthetic
    weights = save_tiny_yolo_pose(tmp_path / "models" / "pose.pt")
    depthpro = save_tiny_depthpro(tmp_path / "models" / "depthpro")
    config = config_from_dict(tiny_config_dict(root, perception={
        "device": "cpu",
        "keypoints": {"backend": "yolo", "weights": str(weights), "confidence": 0.0, "batch_size": 3},
        "depth": {"backend": "depthpro", "model": str(depthpro), "batch_size": 2},
    }))
    names = [SequenceId(1, 2, 1, 1).name, SequenceId(1, 2, 1, 2).name]
    packed = preprocess_sequences(config, names, [tmp_path / f"{n}.h5" for n in names],
                                  [tmp_path / f"{n}.json" for n in names])
    assert packed[0]["load_seconds"] > 0 and packed[1]["load_seconds"] == 0
    single = preprocess_sequence(config, names[1], tmp_path / "single.h5", tmp_path / "single.json")
    assert single["load_seconds"] > 0
    with h5py.File(tmp_path / f"{names[1]}.h5", "r") as a, h5py.File(tmp_path / "single.h5", "r") as b:
        for name in ("status", "keypoints_2d", "box", "depth", "crop", "joints_cam_mm"):
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)

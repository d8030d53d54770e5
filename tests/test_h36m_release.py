"""The real release's quirks, built on the synthetic data read as a release (`dataset.source: h36m`).

Quirks: an image folder the annotations leave out (shipped empty), an annotated sequence whose
folder is missing, images without annotations, camera files storing the camera centre as `t`,
a frame step per split role. Each is shown handled by the library and by the real `snakemake`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from pose3d.config import config_from_dict
from pose3d.datasets.camera_convention import CameraConventionError, translation_from_annotation
from pose3d.datasets.catalog import SKIP_NO_ANNOTATIONS, SKIP_NO_IMAGES, plan_release, subject_catalog
from pose3d.datasets.frame_steps import frame_step_for_subject, subject_role
from pose3d.datasets.h36m import H36MReader
from pose3d.datasets.index import AnnotationIndex, build_index
from pose3d.datasets.layout import SequenceId, annotation_path
from pose3d.testing.config import REPO_ROOT, tiny_config_dict

EMPTY = SequenceId(9, 2, 1, 2)  # shipped empty and left out of the annotations (as S11 act 2 subact 2 cam 1)
MISSING = SequenceId(9, 14, 1, 1)  # annotated, folder absent
UNANNOTATED = SequenceId(1, 14, 1, 3)  # images on disk, no annotation


def _remove_from_data(root: Path, seq: SequenceId) -> None:
    path = annotation_path(root, seq.subject, "data")
    data = json.loads(path.read_text())
    prefix = seq.name + "/"
    drop = {image["id"] for image in data["images"] if image["file_name"].startswith(prefix)}
    data["images"] = [image for image in data["images"] if image["id"] not in drop]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] not in drop]
    path.write_text(json.dumps(data))


@pytest.fixture
def release(tiny_synthetic, tmp_path):
    """A copy of the tiny synthetic dataset with the release's folder quirks, and its config dict."""
    source, _config = tiny_synthetic
    root = tmp_path / "h36m"
    shutil.copytree(source, root)
    (root / ".complete").unlink()
    shutil.rmtree(root / "images" / EMPTY.name)
    (root / "images" / EMPTY.name).mkdir()
    _remove_from_data(root, EMPTY)
    shutil.rmtree(root / "images" / MISSING.name)
    shutil.copytree(root / "images" / SequenceId(1, 14, 1, 1).name, root / "images" / UNANNOTATED.name)
    config = tiny_config_dict(root, dataset={"source": "h36m", "cameras": [1, 2, 3]})
    return root, config


def _store_camera_centres(root: Path, subjects: list[int]) -> None:
    """Rewrite the camera files the old way: t holds the camera centre C = -R^T t."""
    for subject in subjects:
        path = annotation_path(root, subject, "camera")
        cameras = json.loads(path.read_text())
        for params in cameras.values():
            rotation, t = np.array(params["R"]), np.array(params["t"])
            params["t"] = (-rotation.T @ t).tolist()
        path.write_text(json.dumps(cameras))


def _plan(root: Path, config: dict, camera_t: str = "translation", cache_dir: Path | None = None):
    dataset = config["dataset"]
    return plan_release(root, dataset["subjects"], dataset["actions"], dataset["subactions"], dataset["cameras"],
                        camera_t, cache_dir)


def test_sequences_are_annotated_folders_with_images(release, tmp_path):
    root, config = release
    plan = _plan(root, config, cache_dir=tmp_path / "cache")
    expected = {SequenceId(s, a, 1, c).name for s in (1, 9) for a in (2, 14) for c in (1, 2)} - {EMPTY.name,
                                                                                                MISSING.name}
    assert set(plan.sequences) == expected
    skipped = {entry["sequence"]: entry["reason"] for entry in plan.skipped}
    assert skipped == {EMPTY.name: SKIP_NO_IMAGES, MISSING.name: SKIP_NO_IMAGES, UNANNOTATED.name: SKIP_NO_ANNOTATIONS}
    report = plan.report()
    assert report["skipped_by_reason"] == {SKIP_NO_IMAGES: 2, SKIP_NO_ANNOTATIONS: 1}
    assert all(plan.frames[name] == 8 for name in plan.sequences)


def test_catalog_is_cached_until_an_annotation_file_changes(release, tmp_path):
    root, _config = release
    cache = tmp_path / "cache"
    first = subject_catalog(root, 9, cache)
    cached_file = cache / "S9.catalog.json"
    cached_file.write_text(cached_file.read_text().replace(MISSING.name, "s_09_act_14_subact_01_ca_04"))
    assert "s_09_act_14_subact_01_ca_04" in subject_catalog(root, 9, cache)["sequences"]  # read from the cache
    _remove_from_data(root, SequenceId(9, 2, 1, 1))  # the file changes: parsed again
    again = subject_catalog(root, 9, cache)
    assert set(again["sequences"]) == set(first["sequences"]) - {SequenceId(9, 2, 1, 1).name}


def test_old_camera_convention_is_detected_and_read_with_camera_t_centre(release, tmp_path):
    root, config = release
    reference = H36MReader(root).load_sequence(SequenceId(1, 2, 1, 1))
    _store_camera_centres(root, [1, 9])
    with pytest.raises(CameraConventionError, match="set dataset.camera_t: centre") as error:
        _plan(root, config)
    assert "S1 camera 1" in str(error.value) and "Human36M_subject1_camera.json" in str(error.value)
    plan = _plan(root, config, camera_t="centre")
    assert plan.sequences
    record = H36MReader(root, camera_t="centre").load_sequence(SequenceId(1, 2, 1, 1))
    np.testing.assert_allclose(record.joints_cam_mm, reference.joints_cam_mm, atol=0.05)
    _store_camera_centres(root, [1])  # S1 now holds nonsense: neither reading fits
    with pytest.raises(CameraConventionError, match="either reading"):
        _plan(root, config, camera_t="centre")


def test_translation_from_annotation_pins_both_conventions():
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    centre = np.array([100.0, -200.0, 3000.0])
    point = np.array([500.0, 400.0, 1000.0])
    expected = rotation @ (point - centre)
    np.testing.assert_allclose(rotation @ point + translation_from_annotation(rotation, centre, "centre"), expected)
    t = -rotation @ centre
    np.testing.assert_allclose(rotation @ point + translation_from_annotation(rotation, t, "translation"), expected)


@pytest.mark.parametrize("camera_t", ["translation", "centre"])
def test_index_records_equal_the_json_reader(release, tmp_path, camera_t):
    root, _config = release
    if camera_t == "centre":
        _store_camera_centres(root, [9])
    path = tmp_path / "S9.h5"
    build_index(root, 9, path, camera_t=camera_t)
    index = AnnotationIndex(path)
    reader = H36MReader(root, camera_t=camera_t)
    assert index.sequences() == reader.sequences(9)
    for seq in reader.sequences(9):
        for step in (1, 3):
            expected, got = reader.load_sequence(seq, step), index.load_sequence(seq, root, step)
            np.testing.assert_array_equal(got.frame_indices, expected.frame_indices)
            np.testing.assert_array_equal(got.image_ids, expected.image_ids)
            assert got.image_paths == expected.image_paths and got.depth_paths == expected.depth_paths
            np.testing.assert_allclose(got.joints_cam_mm, expected.joints_cam_mm, atol=1e-3)
            np.testing.assert_allclose(got.joints_world_mm, expected.joints_world_mm, atol=1e-2)
            np.testing.assert_array_equal(got.bboxes_xywh, expected.bboxes_xywh)
            np.testing.assert_allclose(got.camera.translation_mm, expected.camera.translation_mm)
            assert got.skipped == expected.skipped
    with h5py.File(path, "r") as handle:
        assert handle.attrs["camera_t"] == camera_t


def test_index_keeps_frames_without_joints_as_counted_skips(release, tmp_path):
    root, _config = release
    path = annotation_path(root, 9, "joint_3d")
    joints = json.loads(path.read_text())
    del joints["2"]["1"]["4"]
    path.write_text(json.dumps(joints))
    build_index(root, 9, tmp_path / "S9.h5")
    record = AnnotationIndex(tmp_path / "S9.h5").load_sequence(SequenceId(9, 2, 1, 1), root, 2)
    assert record.skipped == {"no_joint_3d": 1}
    assert 4 not in record.frame_indices.tolist()


def test_index_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["schema"] = "something else"
    with pytest.raises(ValueError, match="rerun rule index"):
        AnnotationIndex(path)


def test_frame_step_follows_the_subjects_role(tmp_path):
    raw = tiny_config_dict(tmp_path, dataset={"subjects": [1, 5, 9], "frame_step": 5, "test_frame_step": 64})
    config = config_from_dict(raw)
    assert [subject_role(config, s) for s in (1, 9, 5)] == ["train", "test", "unused"]
    assert [frame_step_for_subject(config, s) for s in (1, 9, 5)] == [5, 64, 5]
    same = config_from_dict(tiny_config_dict(tmp_path, dataset={"frame_step": 3, "test_frame_step": None}))
    assert frame_step_for_subject(same, 9) == 3


def _run_snakemake(workdir: Path, config: dict, *extra: str) -> subprocess.CompletedProcess:
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", "2", "--nocolor", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.slow
def test_workflow_reads_the_release_with_its_quirks(release, tmp_path):
    root, config = release
    config = json.loads(json.dumps(config))
    config["dataset"]["test_frame_step"] = 4  # test subject 9: every 4th frame; train subject 1: every 2nd
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = _run_snakemake(workdir, config, "results/chunks/S9.h5", "results/chunks/S1.h5",
                            "results/dataset/report.json")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    preprocessed = sorted(p.name for p in (workdir / "results" / "preprocessed").glob("*.h5"))
    assert EMPTY.name + ".h5" not in preprocessed and MISSING.name + ".h5" not in preprocessed
    assert UNANNOTATED.name + ".h5" not in preprocessed
    assert len(preprocessed) == 6
    report = json.loads((workdir / "results" / "dataset" / "report.json").read_text())
    assert {entry["sequence"] for entry in report["skipped"]} == {EMPTY.name, MISSING.name, UNANNOTATED.name}
    steps = {json.loads(p.read_text())["sequence"]: json.loads(p.read_text())["frame_step"]
             for p in (workdir / "results" / "preprocessed").glob("*.report.json")}
    assert steps == {name: 4 if name.startswith("s_09") else 2 for name in steps}
    with h5py.File(workdir / "results" / "chunks" / "S9.h5", "r") as handle:
        assert set(handle["frame"][()].tolist()) == {0, 4}
    assert (workdir / "results" / "index" / "S9.h5").is_file()

    from pose3d.run_summary import summarize

    lines = summarize(workdir / "results")
    assert any(MISSING.name in line and "no_images" in line for line in lines), lines


@pytest.mark.slow
def test_workflow_stops_before_any_job_on_the_other_camera_convention(release, tmp_path):
    root, config = release
    _store_camera_centres(root, [1, 9])
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = _run_snakemake(workdir, config, "-n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "set dataset.camera_t: centre" in output
    config = json.loads(json.dumps(config))
    config["dataset"]["camera_t"] = "centre"
    result = _run_snakemake(workdir, config, "-n", "results/chunks/S9.h5")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.slow
def test_packed_preprocess_jobs_write_each_sequence_file(release, tmp_path):
    root, config = release
    config = json.loads(json.dumps(config))
    config["perception"]["frames_per_job"] = 3  # S9: 2 sequences of 4 frames (every 2nd of 8) -> 2 jobs
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = _run_snakemake(workdir, config, "results/chunks/S9.h5")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    logs = sorted(p.name for p in (workdir / "results" / "logs" / "preprocess").glob("S09_*.log"))
    assert logs == ["S09_part000.log", "S09_part001.log"]
    written = sorted(p.name for p in (workdir / "results" / "preprocessed").glob("s_09_*.h5"))
    assert written == [f"{SequenceId(9, 2, 1, 1).name}.h5", f"{SequenceId(9, 14, 1, 2).name}.h5"]
    with h5py.File(workdir / "results" / "chunks" / "S9.h5", "r") as handle:
        assert len(handle["frame"]) == 2 * 4


def test_cli_index_and_preprocess_from_it(release, tmp_path):
    from pose3d.cli import main

    root, config = release
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    assert main(["index", "--config", str(configfile), "--subject", "9", "--output", str(tmp_path / "S9.h5")]) == 0
    sequence = SequenceId(9, 2, 1, 1).name
    assert main(["preprocess", "--config", str(configfile), "--sequence", sequence, "--index", str(tmp_path / "S9.h5"),
                 "--output", str(tmp_path / "out.h5")]) == 0
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["frames_seen"] == 4 and report["frame_step"] == 2


def test_run_summary_lists_the_skipped_folders(release, tmp_path):
    from pose3d.datasets.catalog import write_report
    from pose3d.run_summary import summarize

    root, config = release
    write_report(_plan(root, config).report(), tmp_path / "results" / "dataset" / "report.json")
    lines = summarize(tmp_path / "results")
    assert lines[0] == "dataset: 6 sequences, 3 folders skipped (no_annotations 1, no_images 2)"
    assert any(EMPTY.name in line and "folder is empty" in line for line in lines)


@pytest.mark.slow
def test_packed_rules_take_the_profile_settings_of_preprocess(release, tmp_path):
    root, config = release
    config = json.loads(json.dumps(config))
    config["perception"]["frames_per_job"] = 3
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = _run_snakemake(workdir, config, "-n", "results/chunks/S9.h5", "--set-resources",
                            "preprocess:mem_mb=12345", "preprocess:slurm_partition=gpu")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    jobs = output.split("rule preprocess_S09_part")[1:]
    assert len(jobs) == 2
    for job in jobs:
        resources = next(line for line in job.splitlines() if line.strip().startswith("resources:"))
        assert "mem_mb=12345" in resources and "slurm_partition=gpu" in resources, resources

"""Bad shards, non-finite numbers, damaged checkpoints, and errors the CLI did not foresee.

See tests/bad_inputs.py for what every case asserts; every case here ends in a clear error
(`test_error_*`) except the ones named `test_handled_*`.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from pose3d.config import config_from_dict
from pose3d.shards import schema
from pose3d.shards.reader import ShardError, ShardReader
from pose3d.shards.writer import ShardWriter
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.samples import make_samples
from pose3d.testing.shards import write_shards, write_test_shard
from pose3d.validation import CheckpointError, NonFiniteError, first_non_finite
from tests.bad_inputs import run_cli, snapshot, write_config

# -- the shard writer refuses, the reader names, a NaN or an infinity


@pytest.mark.parametrize(("dataset", "value"), [(schema.JOINTS_3D, np.nan), (schema.INTRINSICS, np.inf),
                                                (schema.DEPTH, np.nan), (schema.CROP, -np.inf)])
def test_error_writer_refuses_non_finite_values(tmp_path, dataset, value):
    path = write_test_shard(tmp_path / "shard_00000.h5", subject=1, count=4)
    finished = snapshot(tmp_path)
    batch = make_samples(5, 1, subject=1, image_size=16, depth_size=8, image_codec="jpeg")
    batch[dataset] = np.array(batch[dataset], dtype=np.float32)
    batch[dataset][3].flat[0] = value
    with pytest.raises(NonFiniteError) as raised, ShardWriter(
        path, image_size=16, depth_size=8, image_codec="jpeg", keypoints_layout="h36m17"
    ) as writer:
        writer.append(make_samples(2, 2, subject=1, image_size=16, depth_size=8, image_codec="jpeg"))
        writer.append(batch)
    message = str(raised.value)
    assert str(path) in message and f"'{dataset}' of sample 5" in message  # 2 samples before, then index 3
    assert snapshot(tmp_path) == finished, "the finished shard at that path stays as it was"


def inject(path, dataset, index, value):
    """Damage a finished shard behind the writer's back (as a bad disk or another tool would)."""
    with h5py.File(path, "a") as handle:
        row = handle[dataset][index]
        row.flat[0] = value
        handle[dataset][index] = row


def test_error_reader_names_file_dataset_and_sample(tmp_path):
    path = write_test_shard(tmp_path / "shard_00000.h5", subject=1, count=6)
    inject(path, schema.JOINTS_3D, 4, np.nan)
    with ShardReader(path) as reader:
        assert len(reader.read(0, 4)[schema.JOINTS_3D]) == 4  # the clean part reads
        with pytest.raises(ShardError, match=r"shard_00000\.h5: 'joints_3d' of sample 4 is not finite"):
            reader.read()
        with pytest.raises(ShardError, match="sample 4"):
            reader.read_indices(np.array([5, 4, 0]))


@pytest.mark.parametrize("value", [np.nan, -np.nan, np.inf, -np.inf])
def test_error_reader_finds_a_non_finite_depth_pixel(tmp_path, value):
    """Depth is float16, checked by its exponent bits (numpy's float16 isfinite is slow): every kind of bad value."""
    path = write_test_shard(tmp_path / "shard_00000.h5", subject=1, count=6)
    with h5py.File(path, "a") as handle:
        row = handle[schema.DEPTH][3]
        row[2, 5] = value
        handle[schema.DEPTH][3] = row
    with ShardReader(path) as reader, pytest.raises(ShardError, match=r"'depth' of sample 3 is not finite"):
        reader.read(0, 6)


def test_first_non_finite_float16_matches_isfinite():
    values = np.array([0.0, -0.0, 65504.0, -65504.0, 6e-8, -6e-8, 1.0], dtype=np.float16)  # extremes, subnormals
    rows = np.tile(values, (4, 1))
    assert first_non_finite(rows) is None
    rows[2, 3] = np.float16(np.inf)
    rows[3, 0] = np.float16(np.nan)
    assert first_non_finite(rows) == 2 and first_non_finite(rows[3:]) == 0
    assert first_non_finite(rows[:, ::2]) == 3  # a strided view: rows 2's inf sits at an odd column


def test_error_split_names_the_chunk_with_a_nan(tmp_path, capsys):
    chunks = tmp_path / "chunks"
    write_test_shard(chunks / "S1.h5", subject=1, count=6)
    with h5py.File(chunks / "S1.h5", "r+") as handle:  # two takes of S1: one can be held out for validation
        handle[schema.SUBACTION][3:] = 2
    write_test_shard(chunks / "S9.h5", subject=9, count=6)
    inject(chunks / "S9.h5", schema.KEYPOINTS_2D, 2, np.inf)
    before = snapshot(chunks)
    config = write_config(tmp_path / "c.yaml", tmp_path / "data")
    code, text = run_cli(capsys, "split", "--config", config, "--chunks", chunks, "--output", tmp_path / "split")
    assert code == 2 and "S9.h5" in text and "keypoints_2d" in text and "sample 2" in text
    assert snapshot(chunks) == before and not list((tmp_path / "split" / "test").glob("*.h5"))


@pytest.mark.parametrize("damage", ["truncated", "not_hdf5", "empty"])
def test_error_shuffle_names_a_damaged_shard(tmp_path, capsys, damage):
    good = write_test_shard(tmp_path / "in" / "shard_00000.h5", subject=1, count=8)
    bad = write_test_shard(tmp_path / "in" / "shard_00001.h5", subject=1, count=200)
    data = bad.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "not_hdf5": b"GIF89a not a shard", "empty": b""}[damage])
    before = snapshot(tmp_path / "in")
    config = write_config(tmp_path / "c.yaml", tmp_path / "data")
    code, text = run_cli(capsys, "shuffle", "--config", config, "--output", tmp_path / "out", good, bad)
    assert code == 2 and "shard_00001.h5" in text
    assert snapshot(tmp_path / "in") == before and not list((tmp_path / "out").glob("*.h5"))


# -- training stops on a non-finite value or loss, naming where it came from


@pytest.fixture
def train_config(tmp_path):
    return write_config(tmp_path / "c.yaml", tmp_path / "unused",
                        train={"epochs": 1, "batch_size": 4, "augment": {"flip_prob": 0.0}})


def train_args(config, train, val, out, *extra):
    return ["train", "--config", config, "--model", "transformer", "--train-shards", *train,
            "--val-shards", *val, "--out", out, *extra]


def test_error_training_names_the_shard_with_a_nan(tmp_path, capsys, train_config):
    train = write_shards(tmp_path / "train", 2, 8, subject=1, image_codec="jpeg")
    test = write_shards(tmp_path / "test", 1, 8, subject=9, image_codec="jpeg")
    inject(train[1], schema.JOINTS_3D, 5, np.nan)
    code, text = run_cli(capsys, *train_args(train_config, train, test, tmp_path / "out"))
    assert code == 2 and "shard_00001.h5" in text and "'joints_3d' of sample 5" in text
    assert not (tmp_path / "out" / "best.pt").exists()


def test_error_training_stops_on_a_non_finite_loss_with_provenance(tmp_path, capsys, train_config):
    """Finite but absurd joints (1e22 mm) overflow the loss: the message names the batch's samples."""
    from pose3d.shards.writer import write_shard

    train = []
    for index in range(2):
        samples = make_samples(8, index, subject=1, start_frame=100 * index)
        samples[schema.JOINTS_3D] = samples[schema.JOINTS_3D] * np.float32(1e22)  # every sample: any batch fails
        path = tmp_path / "train" / f"shard_{index:05d}.h5"
        write_shard(path, samples, image_size=32, depth_size=16, image_codec="raw", keypoints_layout="h36m17")
        train.append(path)
    test = write_shards(tmp_path / "test", 1, 8, subject=9)
    code, text = run_cli(capsys, *train_args(train_config, train, test, tmp_path / "out"))
    assert code == 2 and "loss is" in text and ("inf" in text or "nan" in text)
    assert "subject=1" in text and "frame=" in text and "action=" in text
    assert not (tmp_path / "out" / "best.pt").exists()


# -- damaged checkpoints: one line naming the file and the cause


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    return (write_shards(folder / "train", 2, 8, subject=1, image_codec="jpeg"),
            write_shards(folder / "test", 1, 8, subject=9, image_codec="jpeg"))


def good_checkpoint(path, **transformer):
    """A real training checkpoint (trainer format) of a tiny transformer, one epoch on tiny shards."""
    from pose3d.models.registry import build_model

    config = config_from_dict(tiny_config_dict(path.parent / "unused", model={"transformer": transformer}))
    model = build_model("transformer", config, "h36m17")
    optimizer = torch.optim.AdamW(model.parameters())
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "model_name": "transformer",
                "config": config.to_dict(), "keypoints_layout": "h36m17"}, path)
    return path


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_error_resume_from_a_damaged_last_checkpoint(tmp_path, capsys, train_config, shards, damage):
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    last = good_checkpoint(out / "checkpoints" / "last.pt")
    data = last.read_bytes()
    last.write_bytes(b"" if damage == "empty" else data[: len(data) // 3])
    before = snapshot(last)
    code, text = run_cli(capsys, *train_args(train_config, *shards, out, "--resume"))
    assert code == 2 and "last.pt" in text and ("is empty" in text if damage == "empty" else "truncated" in text)
    assert snapshot(last) == before, "the damaged checkpoint is evidence: never overwritten"
    assert "Traceback" not in text


def test_error_resume_from_a_checkpoint_of_another_model_size(tmp_path, capsys, train_config, shards):
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    last = good_checkpoint(out / "checkpoints" / "last.pt", embed_dim=64, num_heads=2)
    before = snapshot(last)
    code, text = run_cli(capsys, *train_args(train_config, *shards, out, "--resume"))
    assert code == 2 and "last.pt" in text and "does not fit" in text and "differ in size" in text
    assert len(text.splitlines()) <= 3 and snapshot(last) == before


def test_error_evaluate_a_truncated_checkpoint(tmp_path, capsys, shards):
    checkpoint = good_checkpoint(tmp_path / "best.pt")
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    config = write_config(tmp_path / "c.yaml", tmp_path / "unused")
    code, text = run_cli(capsys, "evaluate", "--config", config, "--checkpoint", checkpoint,
                         "--test-shards", *shards[1], "--train-shards", *shards[0], "--out", tmp_path / "eval")
    assert code == 2 and "best.pt" in text and "truncated" in text and "Traceback" not in text
    assert not (tmp_path / "eval").exists()


def test_error_infer_with_an_empty_checkpoint_writes_nothing(tmp_path, capsys):
    (tmp_path / "best.pt").write_bytes(b"")
    images = tmp_path / "images"
    images.mkdir()
    code, text = run_cli(capsys, "infer", "--checkpoint", tmp_path / "best.pt", "--input", images,
                         "--output", tmp_path / "out", "--device", "cpu", "--keypoints-backend", "dataset",
                         "--depth-backend", "dataset", "--dataset-root", tmp_path)
    assert code == 2 and "best.pt" in text and "is empty" in text and not (tmp_path / "out").exists()


def test_error_model_checkpoint_of_another_size(tmp_path):
    from pose3d.models.registry import load_model_from_checkpoint

    path = good_checkpoint(tmp_path / "best.pt")
    state = torch.load(path, weights_only=True)
    state["config"]["model"]["transformer"]["embed_dim"] = 64  # the file claims a size its weights do not have
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"best\.pt does not fit the configured model"):
        load_model_from_checkpoint(path)


def test_error_not_a_checkpoint_dict(tmp_path):
    from pose3d.models.registry import load_model_from_checkpoint

    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match=r"tensor\.pt holds a Tensor"):
        load_model_from_checkpoint(tmp_path / "tensor.pt")


# -- an error no command foresaw: one line, the traceback only with --verbose


def test_error_unforeseen_failure_is_one_line_unless_verbose(tmp_path, capsys, shards):
    out = tmp_path / "out"
    out.write_text("a file where the output folder should be")
    config = write_config(tmp_path / "c.yaml", tmp_path / "unused")
    code, text = run_cli(capsys, *train_args(config, *shards, out))
    assert code == 1 and str(out) in text and "Traceback" not in text and "--verbose" in text
    assert len(text.strip().splitlines()) == 1 and out.read_text().startswith("a file")
    with pytest.raises(OSError):
        run_cli(capsys, "--verbose", *train_args(config, *shards, out))

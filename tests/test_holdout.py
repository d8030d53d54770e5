"""The train / validation / test split: whole validation takes, conservation, and training never reading test shards."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pose3d.chunk import chunk_subject
from pose3d.config import config_from_dict
from pose3d.datasets.layout import SequenceId
from pose3d.shards import schema
from pose3d.shards.holdout import split_train_val_test, validation_takes
from pose3d.shards.reader import ShardError
from pose3d.testing.config import tiny_config_dict
from pose3d.testing.shards import sample_keys, write_preprocessed
from pose3d.training.distributed import DistContext
from pose3d.training.pipeline import build_trainer


def test_validation_takes_per_action_whole_and_stable():
    takes = [(s, a, sa) for s in (1, 5, 6, 7, 8) for a in (2, 4, 9) for sa in (1, 2)]
    chosen = validation_takes(takes, 0.1)
    assert [a for _s, a, _sa in chosen] == [2, 4, 9]  # one take (of 10) per action
    assert chosen == validation_takes(list(reversed(takes)), 0.1)  # order of discovery does not matter
    assert len(validation_takes(takes, 0.3)) == 9
    # Adding a subject elsewhere does not reshuffle which takes an action holds out.
    more = validation_takes(takes + [(9, 14, 1), (11, 14, 1)], 0.1)
    assert [t for t in more if t[1] != 14] == chosen
    # Never every take of an action; an action with one take keeps it for training.
    assert validation_takes([(1, 2, 1), (5, 2, 1)], 0.5) in ([(1, 2, 1)], [(5, 2, 1)])
    assert validation_takes([(1, 2, 1), (1, 14, 1)], 0.5) == []


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    """Real chunks of subjects 1, 5 and 9: actions 2 and 14, cameras 1 and 2, 12 frames each."""
    tmp = tmp_path_factory.mktemp("holdout")
    root = tmp / "data"
    config = config_from_dict(tiny_config_dict(root, shards={"image_size": 16, "depth_size": 8}))
    paths = []
    for subject in (1, 5, 9):
        files = [
            write_preprocessed(root, tmp / "pre", SequenceId(subject, action, 1, camera), list(range(0, 24, 2)), depth_size=8)
            for action in (2, 14) for camera in (1, 2)
        ]
        paths.append(tmp / f"S{subject}.h5")
        chunk_subject(config, subject, files, paths[-1])
    return paths


def _outputs(folder, counts=(2, 1, 1)):
    return {name: [folder / name / f"shard_{i:05d}.h5" for i in range(count)]
            for name, count in zip(("train", "val", "test"), counts, strict=True)}


def test_split_holds_out_whole_takes_and_conserves_samples(chunks, tmp_path):
    outputs = _outputs(tmp_path)
    sizes = split_train_val_test(chunks, [1, 5], [9], 0.2, outputs)
    keys = {name: sample_keys(paths) for name, paths in outputs.items()}
    all_keys = sample_keys(chunks)
    assert sorted(keys["train"] + keys["val"]) == sorted(k for k in all_keys if k[0] in (1, 5))
    assert sorted(keys["test"]) == sorted(k for k in all_keys if k[0] == 9)
    assert {name: sum(s) for name, s in sizes.items()} == {"train": 48, "val": 48, "test": 48}
    # Whole takes: every camera and frame of a validation take is in val, none of it in train.
    val_takes = {k[:3] for k in keys["val"]}
    assert {k[2] for k in keys["val"]} == {1} and {k[1] for k in keys["val"]} == {2, 14}  # one take per action
    assert not val_takes & {k[:3] for k in keys["train"]}
    for name, paths in outputs.items():
        for path in paths:
            with h5py.File(path, "r") as handle:
                assert handle.attrs[schema.ATTR_SPLIT] == name
                if name == "val":
                    assert {tuple(t) for t in handle.attrs["val_takes"].tolist()} == val_takes


def test_split_without_a_whole_take_to_hold_out_is_an_error(chunks, tmp_path):
    with pytest.raises(ShardError, match="no whole take can be held out"):
        split_train_val_test(chunks, [1], [9], 0.2, _outputs(tmp_path))
    with pytest.raises(ShardError, match=r"subjects \[7\] have no samples"):
        split_train_val_test(chunks, [1, 7], [9], 0.2, _outputs(tmp_path))


def test_training_refuses_a_test_shard(chunks, tmp_path):
    """Model selection on the test split is refused by the trainer itself, naming the file."""
    outputs = _outputs(tmp_path)
    split_train_val_test(chunks, [1, 5], [9], 0.2, outputs)
    config = config_from_dict(tiny_config_dict(tmp_path / "unused", shards={"image_size": 16, "depth_size": 8},
                                               model={"transformer": {"patch_size": 8}}))
    with pytest.raises(ValueError, match=r"shard_00000.h5 is a test shard .* given as validation data"):
        build_trainer(config, "transformer", outputs["train"], outputs["test"], None, DistContext())
    with pytest.raises(ValueError, match="given as training data"):
        build_trainer(config, "transformer", outputs["test"], outputs["val"], None, DistContext())
    trainer = build_trainer(config, "transformer", outputs["train"], outputs["val"], None, DistContext())
    assert trainer.val_split == "val"
    assert np.isfinite(trainer.validate(0)["val_mpjpe"])


def test_cli_split_writes_train_val_and_test(chunks, tmp_path, capsys):
    import yaml

    from pose3d.cli import main as cli_main

    config = tiny_config_dict(tmp_path / "unused", dataset={"subjects": [1, 5, 9]},
                              split={"train_subjects": [1, 5], "test_subjects": [9], "val_fraction": 0.2})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "split"
    assert cli_main(["split", "--config", str(config_path), "--chunks", str(chunks[0].parent), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train: 48 samples" in printed and "val: 48 samples" in printed and "test: 48 samples" in printed
    assert sorted(p.parent.name for p in out.glob("*/shard_*.h5")) == ["test", "train", "train", "val"]

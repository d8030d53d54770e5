"""The split into train, validation and test shards: test by subject, validation by whole takes.

Samples whose subject the detector missed (no 2D keypoints, `schema.person_detected`) are left
out of training and kept in validation and test, where the protocol counts every frame.

A take is one (subject, action, subaction) recording. Validation holds out whole takes of the
training subjects, every camera and frame of them, so no frame of a validation take (nor the same
pose seen from another camera) is trained on. Per action, `round(val_fraction x takes)` takes are
held out (at least one when the action has two or more, never all of them), chosen by a stable hash
of the take's name: the choice does not depend on the order of the chunks and stays the same when
other subjects or actions are added. Model selection uses validation; the test subjects are read
by evaluation and inference only.
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from pose3d.shards import schema
from pose3d.shards.ops import _redistribute
from pose3d.shards.reader import ShardError, ShardReader

log = logging.getLogger(__name__)

Take = tuple[int, int, int]  # (subject, action, subaction)
SPLITS = ("train", "val", "test")


def _stable_rank(take: Take) -> tuple[int, Take]:
    subject, action, subaction = take
    return zlib.crc32(f"S{subject}-A{action}-SA{subaction}".encode()), take


def validation_takes(takes: Iterable[Take], fraction: float) -> list[Take]:
    """The takes held out for validation, sorted: per action round(fraction x count), >= 1 if count >= 2."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")
    by_action: dict[int, list[Take]] = defaultdict(list)
    for take in set(takes):
        by_action[take[1]].append(take)
    chosen: list[Take] = []
    for action in sorted(by_action):
        ordered = sorted(by_action[action], key=_stable_rank)
        if len(ordered) < 2:
            continue  # holding out an action's only take would leave nothing of it to train on
        count = min(len(ordered) - 1, max(1, round(fraction * len(ordered))))
        chosen += ordered[:count]
    return sorted(chosen)


def _read_takes(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) subject, action, subaction of every sample of a chunk, and (N,) whose person was detected."""
    with ShardReader(path) as reader:
        columns = reader.read(datasets=[schema.SUBJECT, schema.ACTION, schema.SUBACTION, schema.KEYPOINTS_2D])
    takes = np.stack([columns[schema.SUBJECT], columns[schema.ACTION], columns[schema.SUBACTION]], axis=1)
    return takes.astype(np.int64), schema.person_detected(columns[schema.KEYPOINTS_2D])


def split_train_val_test(
    chunk_paths: Sequence[str | Path],
    train_subjects: Sequence[int],
    test_subjects: Sequence[int],
    val_fraction: float,
    outputs: Mapping[str, Sequence[str | Path]],
) -> dict[str, list[int]]:
    """Write the train, val and test shards (`outputs[name]`, balanced sizes) from subject chunks.

    Every shard gets the attributes `split` (its name) and `subjects`; validation shards also
    `val_takes` ((K, 3) subject, action, subaction). A requested subject without samples, or a
    validation split that holds no take, is an error. Returns the sample counts per shard.
    """
    missing_outputs = set(SPLITS) - set(outputs)
    if missing_outputs:
        raise ValueError(f"outputs for splits {sorted(missing_outputs)} not given")
    train, test = {int(s) for s in train_subjects}, {int(s) for s in test_subjects}
    if train & test:
        raise ShardError(f"subjects {sorted(train & test)} are both train and test subjects")
    read = [_read_takes(path) for path in chunk_paths]
    takes_per_chunk = [takes for takes, _detected in read]
    found = set().union(*(set(t[:, 0].tolist()) for t in takes_per_chunk)) if takes_per_chunk else set()
    missing = sorted((train | test) - found)
    if missing:
        raise ShardError(
            f"subjects {missing} have no samples in the chunks {[str(p) for p in chunk_paths]}; "
            "check dataset.subjects and the chunk logs"
        )
    train_takes = {tuple(row) for t in takes_per_chunk for row in t.tolist() if row[0] in train}
    held_out = validation_takes(train_takes, val_fraction)
    if not held_out:
        raise ShardError(
            f"split.val_fraction = {val_fraction}: no whole take can be held out for validation, because every "
            f"action of the train subjects {sorted(train)} has a single take (subject, subaction); "
            "add train subjects or subactions"
        )
    held_out_array = np.asarray(held_out, dtype=np.int64)
    masks: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    missed_in_train = 0
    for takes, detected in read:
        in_val = (takes[:, None, :] == held_out_array[None]).all(-1).any(-1)
        in_train_subjects = np.isin(takes[:, 0], sorted(train))
        masks["val"].append(in_train_subjects & in_val)
        masks["train"].append(in_train_subjects & ~in_val & detected)
        missed_in_train += int(np.sum(in_train_subjects & ~in_val & ~detected))
        masks["test"].append(np.isin(takes[:, 0], sorted(test)))
    if missed_in_train:
        log.info("split train: %d samples whose subject the detector missed (no 2D keypoints) left out", missed_in_train)
    subjects = {"train": sorted(train), "val": sorted(train), "test": sorted(test)}
    sizes = {}
    for name in SPLITS:
        attrs = {schema.ATTR_SPLIT: name, "subjects": np.asarray(subjects[name])}
        if name == "val":
            attrs["val_takes"] = held_out_array
        sizes[name] = _redistribute(chunk_paths, outputs[name], masks[name], attrs, f"split {name}")
        log.info("split %s: %d samples into %d shards %s", name, sum(sizes[name]), len(sizes[name]), sizes[name])
    log.info("validation takes (subject, action, subaction): %s", held_out)
    return sizes

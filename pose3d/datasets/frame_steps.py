"""Which frame step a subject's sequences take: its role in the split decides.

The literature trains on every 5th frame and tests on every 64th (or every frame), so
`dataset.frame_step` applies to the training subjects and `dataset.test_frame_step` (None:
the same) to the test subjects. The validation takes (`split.val_fraction`) are held out of
the training subjects' sequences, so they take `frame_step` like the rest of those subjects. A
subject in neither list is never read by split; should it be built anyway it is treated as
training data, the denser step.
"""

from __future__ import annotations

from pose3d.config import Config

ROLE_TRAIN = "train"
ROLE_TEST = "test"
ROLE_UNUSED = "unused"


def subject_role(config: Config, subject: int) -> str:
    """train | test | unused (in neither list of the split)."""
    if int(subject) in config.split.test_subjects:
        return ROLE_TEST
    if int(subject) in config.split.train_subjects:
        return ROLE_TRAIN
    return ROLE_UNUSED


def frame_step_for_subject(config: Config, subject: int) -> int:
    """Keep every n-th frame of `subject`: test_frame_step for test subjects, else frame_step."""
    if subject_role(config, subject) == ROLE_TEST and config.dataset.test_frame_step is not None:
        return int(config.dataset.test_frame_step)
    return int(config.dataset.frame_step)

"""Names and paths of the Human3.6M release layout (shared by the reader and the generator)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Human3.6M action_idx -> name, as in the widely distributed annotation files.
ACTIONS: dict[int, str] = {
    2: "Directions", 3: "Discussion", 4: "Eating", 5: "Greeting", 6: "Phoning",
    7: "Posing", 8: "Purchases", 9: "Sitting", 10: "SittingDown", 11: "Smoking",
    12: "Photo", 13: "Waiting", 14: "Walking", 15: "WalkDog", 16: "WalkTogether",
}
SUBJECTS = (1, 5, 6, 7, 8, 9, 11)
CAMERAS = (1, 2, 3, 4)
SUBACTIONS = (1, 2)

_SEQUENCE_PATTERN = re.compile(r"^s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)$")


@dataclass(frozen=True, order=True)
class SequenceId:
    """One recording: a subject doing one action (subaction) seen by one camera."""

    subject: int
    action: int
    subaction: int
    camera: int

    @property
    def name(self) -> str:
        """The release's folder name, e.g. `s_01_act_02_subact_01_ca_01`."""
        return f"s_{self.subject:02d}_act_{self.action:02d}_subact_{self.subaction:02d}_ca_{self.camera:02d}"

    @classmethod
    def parse(cls, name: str) -> SequenceId:
        match = _SEQUENCE_PATTERN.match(name)
        if match is None:
            raise ValueError(f"not a Human3.6M sequence name: {name!r} (expected s_01_act_02_subact_01_ca_01)")
        return cls(*(int(group) for group in match.groups()))

    def image_name(self, frame_idx: int) -> str:
        """Path of a frame below `images/` (frame_idx is 0-based, file numbers 1-based)."""
        return f"{self.name}/{self.name}_{frame_idx + 1:06d}.jpg"

    def depth_name(self, frame_idx: int) -> str:
        """Path of a synthetic depth map below `depth/` (uint16 millimetres, 0 = no surface)."""
        return f"{self.name}/{self.name}_{frame_idx + 1:06d}.png"


def annotation_path(root: str | Path, subject: int, kind: str) -> Path:
    """`annotations/Human36M_subject{S}_{kind}.json`, kind in data | camera | joint_3d."""
    if kind not in ("data", "camera", "joint_3d"):
        raise ValueError(f"unknown annotation kind {kind!r}")
    return Path(root) / "annotations" / f"Human36M_subject{subject}_{kind}.json"


def sequence_ids(
    subjects: list[int], actions: list[int], subactions: list[int], cameras: list[int]
) -> list[SequenceId]:
    """Every (subject, action, subaction, camera) combination; empty `actions` means all 15."""
    actions = list(actions) or list(ACTIONS)
    return [
        SequenceId(s, a, sa, c)
        for s in sorted(subjects)
        for a in sorted(actions)
        for sa in sorted(subactions)
        for c in sorted(cameras)
    ]

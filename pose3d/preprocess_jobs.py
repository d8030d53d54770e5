"""How the preprocess stage's sequences are cut into jobs, known when the DAG is built.

A GPU preprocess job first loads YOLO11x-pose and DepthPro (about 1.9 GB): with one job per
sequence, that load rivals the GPU work on a test sequence at every 64th frame. With
`perception.frames_per_job` > 0 a subject's sequences, in camera order, are packed into jobs
of at least that many frames (after the subject's frame step), so the load is a small share
of each job, while a failed job loses at most about that many frames. 0 keeps one job per
sequence (the default: CPU backends start in a second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pose3d.datasets.layout import SequenceId


@dataclass(frozen=True)
class PreprocessJob:
    """One preprocess job: sequences of one subject processed with models loaded once."""

    name: str  # e.g. S01_part003, unique in the DAG
    subject: int
    sequences: tuple[str, ...]
    frames: int  # frames it will see (estimated from the annotations and the frame step)


def pack_sequences(
    frames_by_sequence: dict[str, int], step_of_subject: dict[int, int], frames_per_job: int
) -> list[PreprocessJob]:
    """Pack each subject's sequences (sorted by camera, action, subaction) into jobs of >= frames_per_job frames.

    `frames_by_sequence`: annotated frames per sequence; `step_of_subject`: its frame step.
    A remainder smaller than half a job joins the subject's previous job.
    """
    if frames_per_job < 1:
        raise ValueError(f"frames_per_job must be >= 1 to pack jobs, got {frames_per_job}")
    by_subject: dict[int, list[SequenceId]] = {}
    for name in frames_by_sequence:
        seq = SequenceId.parse(name)
        by_subject.setdefault(seq.subject, []).append(seq)
    jobs = []
    for subject, sequences in sorted(by_subject.items()):
        step = step_of_subject[subject]
        groups: list[list[tuple[str, int]]] = [[]]
        for seq in sorted(sequences, key=lambda s: (s.camera, s.action, s.subaction)):
            if sum(frames for _, frames in groups[-1]) >= frames_per_job:
                groups.append([])
            groups[-1].append((seq.name, math.ceil(frames_by_sequence[seq.name] / step)))
        if len(groups) > 1 and sum(frames for _, frames in groups[-1]) < frames_per_job / 2:
            remainder = groups.pop()
            groups[-1] += remainder
        for number, group in enumerate(groups):
            jobs.append(PreprocessJob(f"S{subject:02d}_part{number:03d}", subject, tuple(name for name, _ in group),
                                      sum(frames for _, frames in group)))
    return jobs


def load_share(load_seconds: float, seconds_per_frame: float, frames: int) -> float:
    """Fraction of a job's time spent loading models: load / (load + frames x per-frame cost)."""
    total = load_seconds + frames * seconds_per_frame
    return load_seconds / total if total > 0 else float("nan")

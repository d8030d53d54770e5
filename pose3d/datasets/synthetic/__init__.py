"""A synthetic dataset in the exact Human3.6M release layout (images, depth, annotations).

`generate_dataset(config, root, workers)` renders every configured (subject, action,
subaction, camera) sequence: mannequins with per-subject bodies (`body`), joint-angle
motion per action through forward kinematics (`motion`, `kinematics`), the published
Human3.6M cameras (`cameras`), a z-buffered numpy ray caster (`render`, `mannequin`), and
writes the Human3.6M annotation JSONs (`writer`). World frame: z up, floor at z = 0, mm.
`root/.complete` is written last; its presence means the dataset is finished.
`write_preview` draws a contact sheet with the annotated skeleton over the images.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path

from tqdm import tqdm

from pose3d.config import Config
from pose3d.datasets.layout import sequence_ids
from pose3d.datasets.synthetic.cameras import camera_for
from pose3d.datasets.synthetic.motion import SUPPORTED_ACTIONS, check_actions
from pose3d.datasets.synthetic.preview import write_preview
from pose3d.datasets.synthetic.sequence import SequenceJob, motion_of, render_sequence
from pose3d.datasets.synthetic.writer import subject_annotations, write_json_atomic
from pose3d.validation import check_output_folder, claim_output_folder

__all__ = ["SUPPORTED_ACTIONS", "check_synthetic_root", "generate_dataset", "write_preview"]

log = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"
# The ownership marker (`.pose3d-synthesize`), written before any data.
OWNER = "synthesize"


def check_synthetic_root(root: str | Path, overwrite: bool = False) -> None:
    """Raise OutputConflictError when `root` holds files this generator did not write.

    Its own folders carry `.pose3d-synthesize` (or, from older versions, the `.complete` marker).
    """
    own = overwrite or (Path(root) / COMPLETE_MARKER).is_file()
    check_output_folder(root, OWNER, own, hint=" (config key 'dataset.root', or --root)")


def generate_dataset(config: Config, root: str | Path, workers: int = 1, overwrite: bool = False) -> dict:
    """Render the configured synthetic dataset under `root`; returns a summary dict.

    Uses config.dataset.{subjects, actions, subactions, cameras} (empty actions = all of
    SUPPORTED_ACTIONS) and config.synthetic.*; the output is identical for any `workers`.
    Summary keys: frames, sequences, bytes, seconds, subjects, actions, seed.
    A `root` holding files this generator did not write (a real dataset, say) is refused with
    OutputConflictError unless `overwrite`.
    """
    root = Path(root)
    check_synthetic_root(root, overwrite)
    claim_output_folder(root, OWNER, overwrite=True)
    synthetic = config.synthetic
    actions = check_actions(list(config.dataset.actions))
    subjects = sorted(config.dataset.subjects)
    marker = root / COMPLETE_MARKER
    marker.unlink(missing_ok=True)  # an interrupted run must not look finished
    sequences = sequence_ids(subjects, actions, config.dataset.subactions, config.dataset.cameras)
    jobs = [
        SequenceJob(str(root), synthetic.seed, seq, synthetic.frames_per_sequence, synthetic.image_width,
                    synthetic.image_height, synthetic.jpeg_quality)
        for seq in sequences
    ]
    log.info("synthesizing %d sequences x %d frames (%dx%d) into %s with %d worker(s)", len(jobs),
             synthetic.frames_per_sequence, synthetic.image_width, synthetic.image_height, root, workers)
    start = time.perf_counter()
    records, written = {}, 0
    progress = tqdm(total=len(jobs), desc="synthesize", unit="seq")
    if workers > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            for seq, frame_records, nbytes in pool.imap(render_sequence, jobs, chunksize=1):
                records[seq] = frame_records
                written += nbytes
                progress.update()
    else:
        for job in jobs:
            seq, frame_records, nbytes = render_sequence(job)
            records[seq] = frame_records
            written += nbytes
            progress.update()
    progress.close()

    for subject in subjects:
        cameras = {cam: camera_for(subject, cam, synthetic.image_width, synthetic.image_height).to_json()
                   for cam in config.dataset.cameras}
        joints = {
            (action, subaction): motion_of(subject, action, subaction, synthetic.frames_per_sequence,
                                           synthetic.seed).pose.joints
            for action in actions for subaction in config.dataset.subactions
        }
        subject_records = {seq: recs for seq, recs in records.items() if seq.subject == subject}
        written += subject_annotations(root, subject, cameras, joints, subject_records,
                                       synthetic.image_width, synthetic.image_height)
    frames = len(jobs) * synthetic.frames_per_sequence
    seconds = time.perf_counter() - start
    summary = {
        "frames": frames, "sequences": len(jobs), "bytes": written, "seconds": round(seconds, 2),
        "subjects": subjects, "actions": actions, "subactions": sorted(config.dataset.subactions),
        "cameras": sorted(config.dataset.cameras), "seed": synthetic.seed,
        "frames_per_sequence": synthetic.frames_per_sequence,
        "image_size": [synthetic.image_width, synthetic.image_height],
    }
    write_json_atomic(marker, summary)
    log.info("synthesized %d frames (%.1f MB) in %.1f s (%.1f frames/s)", frames, written / 1e6, seconds,
             frames / max(seconds, 1e-9))
    return summary

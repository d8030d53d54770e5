"""Training entry point: one process, or torchrun with one process per GPU.

One process (what torchrun runs on every rank, too):

    python -m pose3d.training.launch --config config/config.yaml --model cnn \\
        --train-shards results/shuffled/train/shard_*.h5 --val-shards results/split/val/shard_*.h5 \\
        --out results/models/cnn

When `train.gpus` (or `--gpus`) is above 1 and this process is not already a torchrun worker,
it re-launches itself as `python -m torch.distributed.run --standalone --nproc_per_node N ...`
(DDP; nccl on CUDA, gloo on CPU). Several nodes under SLURM: start one torchrun per node with srun,

    srun --nodes $N --ntasks-per-node 1 python -m torch.distributed.run \\
        --nnodes $SLURM_NNODES --node_rank $SLURM_NODEID --nproc_per_node $GPUS_PER_NODE \\
        --rdzv_backend c10d --rdzv_endpoint $(scontrol show hostnames | head -n1):29500 \\
        -m pose3d.training.launch --config ... --model cnn --train-shards ... --val-shards ... --out ...

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK, so the workers train instead of re-launching.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import yaml

from pose3d.config import Config, load_config, model_training_config

log = logging.getLogger(__name__)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by this module and `pose3d train`."""
    parser.add_argument("--config", default="config/config.yaml", help="workflow config (YAML)")
    parser.add_argument("--model", required=True, help="model name: cnn | transformer | lifter | depth_lifter")
    parser.add_argument("--train-shards", nargs="+", required=True, help="training shards (shuffled)")
    parser.add_argument("--val-shards", nargs="+", required=True,
                        help="validation shards (results/split/val: held-out takes of the train subjects)")
    parser.add_argument("--out", required=True,
                        help="output folder: best.pt, history.json, tensorboard/, checkpoints/")
    parser.add_argument("--gpus", type=int, default=None, help="processes per node (default: train.gpus)")
    add_resume_arguments(parser)
    add_base_argument(parser)
    parser.add_argument("--sample-log", default=None, help="debug: write the samples each rank trained on here")


def add_base_argument(parser: argparse.ArgumentParser) -> None:
    """--base-checkpoint: the trained lifter an image model with a base_model corrects."""
    parser.add_argument("--base-checkpoint", default=None,
                        help="the base lifter's best.pt, for a model with model.<name>.base_model: lifter | depth_lifter")


def add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    """--resume / --no-resume; by default a fitting OUT/checkpoints/last.pt is resumed, another is not."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="resume", action="store_const", const="always", default="auto",
                       help="resume OUT/checkpoints/last.pt; a checkpoint that does not fit this run is an error")
    group.add_argument("--no-resume", dest="resume", action="store_const", const="never",
                       help="start fresh even when OUT/checkpoints/last.pt fits this run")


def under_torchrun() -> bool:
    """True inside a torchrun worker (it sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def torchrun_command(nproc_per_node: int, module_args: Sequence[str]) -> list[str]:
    """`python -m torch.distributed.run --standalone ...` re-running this module on every rank."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc_per_node}",
        "-m", "pose3d.training.launch", *module_args,
    ]


def run_training(
    config: Config,
    model_name: str,
    train_shards: Sequence[str | Path],
    val_shards: Sequence[str | Path],
    out_dir: str | Path,
    *,
    gpus: int | None = None,
    resume: str = "auto",
    sample_log: str | Path | None = None,
    output_stream: IO[str] | None = None,
    base_checkpoint: str | Path | None = None,
) -> int:
    """Train in this process, or under torchrun when more than one process per node is wanted.

    `output_stream` (an open file, e.g. a rule's log) receives the torchrun workers' output.
    SIGTERM / SIGUSR1 reaching this process are passed to torchrun as SIGTERM, which hands them to
    every worker: they checkpoint together, and this raises TrainingInterrupted.
    """
    # The model's own `model.<name>.train.gpus` first: a keypoint lifter needs no 4-GPU job.
    nproc = model_training_config(config, model_name).train.gpus if gpus is None else gpus
    if nproc > 1 and not under_torchrun():
        from pose3d.shards.reader import localize_shards

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Remote shards are copied into the cache here, once: the workers get local paths and a
        # config without the remote's credentials (the command line and this file are logged).
        train_shards = localize_shards(train_shards, config.storage)
        val_shards = localize_shards(val_shards, config.storage)
        config_path = out_dir / "train_config.yaml"  # the workers read the validated config from here
        config_path.write_text(yaml.safe_dump(config.redacted_dict(), sort_keys=False))
        args = ["--config", str(config_path), "--model", model_name, "--out", str(out_dir), "--gpus", str(nproc),
                "--train-shards", *map(str, train_shards), "--val-shards", *map(str, val_shards)]
        args += {"always": ["--resume"], "never": ["--no-resume"]}.get(resume, [])
        if sample_log is not None:
            args += ["--sample-log", str(sample_log)]
        if base_checkpoint is not None:
            args += ["--base-checkpoint", str(base_checkpoint)]
        from pose3d.training.time_limit import training_deadline
        from pose3d.training.trainer import STOP_SIGNALS, TrainingInterrupted

        command = torchrun_command(nproc, args)
        log.info("launching %d processes: %s", nproc, " ".join(command))
        process = subprocess.Popen(command, stdout=output_stream,
                                   stderr=subprocess.STDOUT if output_stream else None)
        received: list[int] = []

        def forward(signum: int, _frame: object) -> None:
            received.append(signum)
            process.send_signal(signal.SIGTERM)  # torchrun passes SIGTERM on to its workers

        previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
        try:
            returncode = process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if received:
            raise TrainingInterrupted(f"{model_name}: stopped by {signal.Signals(received[0]).name} (torchrun exit "
                                      f"code {returncode}); the checkpoint in {out_dir / 'checkpoints'} continues it")
        # The workers found and announced the deadline; asked here only when torchrun failed, to say why.
        deadline = training_deadline(config.train.stop_before_time_limit_minutes, announce=False) if returncode else None
        if deadline is not None and deadline.reached():
            # The workers stop together past the deadline and exit 75; torchrun reports that as a failure.
            raise TrainingInterrupted(f"{model_name}: torchrun exited {returncode} past the deadline "
                                      f"{deadline.describe()}; the workers' log says whether they stopped for it, "
                                      f"and the checkpoint in {out_dir / 'checkpoints'} continues it")
        if returncode != 0:
            raise RuntimeError(f"torchrun training of {model_name} failed with exit code {returncode}")
        return 0
    from pose3d.training.pipeline import train_model

    train_model(config, model_name, train_shards, val_shards, out_dir, resume=resume, sample_log_dir=sample_log,
                base_checkpoint=base_checkpoint)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose3d.training.launch", description=__doc__.splitlines()[0])
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(
        level=logging.INFO if rank == "0" else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
    )
    config = load_config(args.config)
    return run_training(
        config, args.model, args.train_shards, args.val_shards, args.out,
        gpus=args.gpus, resume=args.resume, sample_log=args.sample_log, base_checkpoint=args.base_checkpoint,
    )


if __name__ == "__main__":
    sys.exit(main())

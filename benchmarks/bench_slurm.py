"""Wall-clock of the tiny data DAG through a real single-node SLURM cluster vs locally with --cores 2.

The same targets (synthesize -> preprocess -> chunk -> split of the test suite's SLURM dataset) are
built twice, each in a fresh folder: once with `--cores 2` (the baseline) and once through
`--profile profiles/slurm-ci` on the cluster of tests/slurm_cluster.py. The difference is the cost
of the scheduler path: sbatch, a snakemake start-up inside every job, and the plugin's status polling.
Needs root and slurm-wlm + munge. Writes benchmarks/results/slurm.json; never asserts timings.

    .venv/bin/python benchmarks/bench_slurm.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from pose3d.testing.config import tiny_config_dict  # noqa: E402
from pose3d.testing.slurm_cluster import SLURM_DATASET, SUBMITTED, SlurmCluster, unavailable_reason  # noqa: E402


def split_targets(config: dict) -> list[str]:
    """The split stage's shards: building them runs synthesize, preprocess, chunk and split."""
    train = [f"results/split/train/shard_{i:05d}.h5" for i in range(config["split"]["train_shards"])]
    val = [f"results/split/val/shard_{i:05d}.h5" for i in range(config["split"]["val_shards"])]
    test = [f"results/split/test/shard_{i:05d}.h5" for i in range(config["split"]["test_shards"])]
    return train + val + test


def build(workdir: Path, *options: str) -> tuple[float, str]:
    """Run the data DAG in `workdir`; return (seconds, snakemake output)."""
    # Two subactions: the split holds out one whole take of S1 for validation.
    config = tiny_config_dict(workdir / "resources" / "synthetic", dataset={**SLURM_DATASET, "subactions": [1, 2]})
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        f"--configfile={workdir / 'config.yaml'}", *options, *split_targets(config),
    ]  # fmt: skip
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"snakemake failed in {workdir}:\n{(result.stdout + result.stderr)[-4000:]}")
    return seconds, result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry; the DAG is already tiny")
    parser.parse_args()
    reason = unavailable_reason()
    if reason:  # `make bench` runs every benchmark: a machine without the cluster skips this one
        print(f"bench_slurm: skipped: {reason}")
        return

    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    (work / "local").mkdir()
    (work / "cluster").mkdir()
    local_s, _ = build(work / "local", "--cores", "2")
    with SlurmCluster() as cluster:
        slurm_s, output = build(work / "cluster", "--profile", str(REPO / "profiles" / "slurm-ci"))
        job_ids = SUBMITTED.findall(output)
        job_seconds = []
        for job_id in job_ids:
            record = cluster.show_job(job_id)
            run_time = next(field for field in record.split() if field.startswith("RunTime="))
            hours, minutes, secs = (int(part) for part in run_time.split("=", 1)[1].split(":"))
            job_seconds.append(hours * 3600 + minutes * 60 + secs)
    shutil.rmtree(work, ignore_errors=True)

    results = {
        "dag": "synthesize + 4 preprocess + 2 chunk + split (tiny synthetic, 4 sequences)",
        "local_cores2_s": round(local_s, 1),
        "slurm_ci_profile_s": round(slurm_s, 1),
        "slurm_over_local": round(slurm_s / local_s, 2),
        "slurm_jobs": len(job_ids),
        "slurm_job_runtime_s": job_seconds,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
    }
    out = REPO / "benchmarks" / "results" / "slurm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

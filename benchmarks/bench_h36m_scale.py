"""Full-scale rehearsal of the real Human3.6M without the licensed data: DAG, index, job start-up.

Generates release-size annotation files (pose3d.datasets.release_scale: 7 subjects, 15 actions,
2 subactions, 4 cameras, ~2.2 M images; one placeholder image per folder) and measures, with
config/h36m.yaml pointed at them:
  - the dataset plan (catalog parse, cold and cached) and `snakemake -n` with every preprocess job
  - rule `index` per subject: seconds and peak RSS (its own process, as a job runs)
  - a preprocess job's start-up: imports + its sequence's frames from the index, versus parsing
    the subject's JSONs as every job did before the index existed
--quick shrinks every recording to 5 % of its frames (same 840 sequences, same DAG) and indexes
two subjects; the full mode takes several minutes and ~1 GB per index process.

    python benchmarks/bench_h36m_scale.py [--quick] [--keep DIR]

Writes benchmarks/results/h36m_scale[_quick].json. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.harness import offline_environment, write_results  # noqa: E402

offline_environment()

# Peak RSS of the child itself: VmHWM restarts at exec, whereas ru_maxrss keeps the forking parent's.
_PEAK_RSS = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
"""

_CHILD_INDEX = _PEAK_RSS + """
import json, sys, time
started = time.perf_counter()
from pose3d.datasets.index import build_index
summary = build_index(sys.argv[1], int(sys.argv[2]), sys.argv[3])
summary["seconds"] = round(time.perf_counter() - started, 3)
summary["peak_rss_mb"] = peak_rss_mb()
print(json.dumps(summary))
"""

_CHILD_STARTUP = _PEAK_RSS + """
import json, sys, time
started = time.perf_counter()
from pose3d.config import load_config
from pose3d.datasets.layout import SequenceId
from pose3d.preprocess import load_record
imported = time.perf_counter()
config = load_config(sys.argv[1])
index = sys.argv[3] if sys.argv[3] != "-" else None
record = load_record(config, SequenceId.parse(sys.argv[2]), config.dataset.frame_step, index)
done = time.perf_counter()
print(json.dumps({"import_s": round(imported - started, 3), "frames_s": round(done - imported, 3),
                  "total_s": round(done - started, 3), "frames": len(record),
                  "peak_rss_mb": peak_rss_mb()}))
"""


def _child(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
                            env=_env())
    if result.returncode:
        raise RuntimeError(f"child failed: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _dry_run(workdir: Path, configfile: Path) -> dict:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", "1", "-n", "--nocolor", "--quiet", "rules"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=_env())
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode:
        raise RuntimeError(f"snakemake -n failed:\n{output[-3000:]}")
    jobs = {match.group(1): int(match.group(2)) for match in re.finditer(r"^(\w+)\s+(\d+)\s*$", output, re.M)}
    return {"seconds": round(seconds, 2), "jobs": jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 %% of the frames, 2 subjects indexed")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder instead of a temporary one")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    import yaml

    from pose3d.datasets.catalog import plan_release
    from pose3d.datasets.layout import SUBJECTS
    from pose3d.datasets.release_scale import write_release

    scale = 0.05 if args.quick else 1.0
    output = args.output or REPO / "benchmarks" / "results" / f"h36m_scale{'_quick' if args.quick else ''}.json"
    scratch = Path(tempfile.mkdtemp(prefix="bench-h36m-scale-"))
    root = args.keep or scratch / "h36m"
    results: dict = {"benchmark": "h36m_scale", "quick": args.quick, "frame_scale": scale,
                     "note": "shared 2-core machine: timings are noisy"}
    try:
        marker = root / f".release_scale_{scale}"
        if not marker.exists():
            shutil.rmtree(root, ignore_errors=True)
            started = time.perf_counter()
            subjects = write_release(root, frame_scale=scale, images="placeholder")
            marker.write_text("complete\n")
            results["generate"] = {"seconds": round(time.perf_counter() - started, 2), "subjects": subjects}
            print(f"generated {sum(s['images'] for s in subjects)} image entries, "
                  f"{sum(s['bytes'] for s in subjects) / 1e6:.0f} MB of JSON in {results['generate']['seconds']} s")

        workdir = scratch / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REPO / "config" / "h36m.yaml").read_text())
        config["dataset"]["root"] = str(root)
        # The workflow checks that the files the jobs will open exist; a dry run opens none of them.
        weights = scratch / "weights" / "yolo11x-pose.pt"
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.touch()
        (scratch / "photos").mkdir(exist_ok=True)
        config["perception"]["keypoints"]["weights"] = str(weights)
        config["infer"]["images"] = str(scratch / "photos")
        configfile = scratch / "h36m.yaml"
        configfile.write_text(yaml.safe_dump(config))

        dataset = config["dataset"]
        cache = workdir / "results" / "index"
        timings = {}
        for label in ("cold", "cached"):
            started = time.perf_counter()
            plan = plan_release(root, dataset["subjects"], dataset["actions"], dataset["subactions"],
                                dataset["cameras"], dataset["camera_t"], cache)
            timings[label] = round(time.perf_counter() - started, 2)
        results["dataset_plan"] = {"seconds_cold_catalog": timings["cold"], "seconds_cached": timings["cached"],
                                   "sequences": len(plan.sequences), "skipped": plan.skipped,
                                   "annotated_frames": int(sum(plan.frames.values()))}
        print(f"dataset plan: {len(plan.sequences)} sequences, cold {timings['cold']} s, cached {timings['cached']} s")
        results["snakemake_dry_run"] = {}
        for frames_per_job in (0, config["perception"]["frames_per_job"]):
            config["perception"]["frames_per_job"] = frames_per_job
            configfile.write_text(yaml.safe_dump(config))
            run = _dry_run(workdir, configfile)
            run["preprocess_jobs"] = sum(count for rule, count in run.pop("jobs").items()
                                         if rule.startswith("preprocess"))
            results["snakemake_dry_run"][f"frames_per_job_{frames_per_job}"] = run
            print(f"snakemake -n, frames_per_job {frames_per_job}: {run}")

        index_subjects = (1, 11) if args.quick else SUBJECTS
        results["index"] = {}
        for subject in index_subjects:
            path = workdir / "results" / "index" / f"S{subject}.h5"
            results["index"][f"S{subject}"] = _child(_CHILD_INDEX, str(root), str(subject), str(path))
            print(f"index S{subject}: {results['index'][f'S{subject}']}")

        sequence = plan.sequences[0]
        index_path = workdir / "results" / "index" / "S1.h5"
        results["preprocess_startup"] = {
            "sequence": sequence,
            "from_index": _child(_CHILD_STARTUP, str(configfile), sequence, str(index_path)),
            "from_json": _child(_CHILD_STARTUP, str(configfile), sequence, "-"),
        }
        print(f"preprocess start-up: {results['preprocess_startup']}")
        peak = max(entry["peak_rss_mb"] for entry in results["index"].values())
        results["recommended_index_mem_mb"] = int(-(-peak * 1.5 // 500) * 500)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_results(output, results)


if __name__ == "__main__":
    main()

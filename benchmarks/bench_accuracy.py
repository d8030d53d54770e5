"""Test accuracy by model x inputs x perception: MPJPE and PA-MPJPE, mean over actions and per action.

Which input helps? Every row of `benchmarks/accuracy.yaml` (a model and the modalities it reads)
is trained on the same synthetic data under each perception setting (oracle: exact 2D and depth;
realistic: the workflow's error models), selected on the validation subjects, and evaluated once
on the test subjects, as the `evaluate` rule does (MPJPE after root alignment, PA-MPJPE after
similarity Procrustes, mean over actions). The reference row `vp3d_single_frame` is VideoPose3D's
single-frame model trained with that repository's recipe on the same samples, the bar the
`lifter` must reach.

Data (synthesize -> preprocess -> chunk, per perception) is built with the library under
`--workdir` and reused when present, as are finished rows with `--resume` (an interrupted grid
goes on where it stopped). Writes benchmarks/results/accuracy[_quick].json and .md.

    .venv/bin/python benchmarks/bench_accuracy.py [--quick] [--perception realistic='{"keypoints": {...}}']
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import offline_environment, write_results  # noqa: E402

log = logging.getLogger("bench_accuracy")
# The grid's image rows correct the keypoint-only lifter row (measured so), not the workflow's
# depth-reading base: the table compares what each input adds to that one baseline.
BENCH_BASE_MODEL = "lifter"


def build_config(spec: dict[str, Any], overrides: dict[str, Any]):
    import yaml

    from pose3d.config import config_from_dict, deep_merge

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    subjects = spec["subjects"]
    split = {"train_subjects": subjects["train"] + subjects["val"], "test_subjects": subjects["test"]}
    everyone = sorted(set(subjects["train"]) | set(subjects["val"]) | set(subjects["test"]))
    raw = deep_merge(base, {"dataset": {"subjects": everyone}, "split": split, "infer": {"enabled": False}})
    return config_from_dict(deep_merge(deep_merge(raw, spec["config"]), overrides))


def prepare_data(config, workdir: Path, perception_name: str, workers: int) -> dict[int, Path]:
    """Synthesize once; preprocess and chunk under this perception; returns {subject: shard}."""
    from pose3d.chunk import chunk_subject
    from pose3d.datasets.layout import sequence_ids
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.preprocess import preprocess_sequence

    root = Path(config.dataset.root)
    if not (root / ".complete").exists():
        started = time.perf_counter()
        summary = generate_dataset(config, root, workers=workers)
        (root / ".complete").write_text(json.dumps(summary, default=str))
        log.info("synthesized %s frames in %.0f s", summary["frames"], time.perf_counter() - started)
    folder = workdir / perception_name
    sequences = sequence_ids(config.dataset.subjects, config.dataset.actions, config.dataset.subactions,
                             config.dataset.cameras)
    chunks = {}
    for subject in config.dataset.subjects:
        shard = folder / "chunks" / f"S{subject}.h5"
        chunks[subject] = shard
        if shard.exists():
            continue
        files = []
        for sequence in (seq for seq in sequences if seq.subject == subject):
            out = folder / "preprocessed" / f"{sequence.name}.h5"
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                preprocess_sequence(config, sequence.name, out, out.with_suffix(".report.json"))
            files.append(out)
        shard.parent.mkdir(parents=True, exist_ok=True)
        chunk_subject(config, subject, files, shard)
    return chunks


def evaluate_pose3d_model(config, name: str, shards: dict[str, list[Path]], out_dir: Path, threads: int,
                          base_checkpoint: Path | None = None):
    """Train with the workflow's trainer (best epoch on val), predict the test shards; (pred, true, actions).

    `base_checkpoint`: the lifter's best.pt, for an image model with base_model: lifter.
    """
    import torch

    from pose3d.evaluate.report import summarize
    from pose3d.evaluate.run import predict
    from pose3d.models.registry import load_model_from_checkpoint
    from pose3d.report import best_epoch_index
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    torch.set_num_threads(threads)
    trainer = build_trainer(config, name, shards["train"], shards["val"], out_dir, DistContext(),
                            base_checkpoint=base_checkpoint)
    history = trainer.fit()
    model, _state = load_model_from_checkpoint(out_dir / "best.pt", "cpu")
    result = predict(model, shards["test"], config.evaluate.batch_size, 0, torch.device("cpu"))
    best = history[best_epoch_index(history)]
    extra = {"epochs": len(history), "best_epoch": best["epoch"], "selected_on": best.get("selected_on"),
             "val_mpjpe": best.get("val_mpjpe"), "val_n_mpjpe": best.get("val_n_mpjpe"),
             "val_pa_mpjpe": best.get("val_pa_mpjpe")}
    # For reference only (the row is best.pt): the last epoch, as the VideoPose3D recipe evaluates.
    last, _state = load_model_from_checkpoint(out_dir / "checkpoints" / "last.pt", "cpu")
    final = predict(last, shards["test"], config.evaluate.batch_size, 0, torch.device("cpu"))
    extra["last_epoch_test"] = summarize(final.predicted_mm, final.true_mm, final.provenance["action"])["average"]
    return result.predicted_mm, result.true_mm, result.provenance["action"], extra


def _read_arrays(paths: list[Path]) -> dict[str, Any]:
    import numpy as np

    from pose3d.shards import schema
    from pose3d.shards.reader import ShardReader

    names = (schema.KEYPOINTS_2D, schema.INTRINSICS, schema.CROP, schema.JOINTS_3D, schema.ACTION)
    parts: dict[str, list] = {name: [] for name in names}
    layout = None
    for path in paths:
        with ShardReader(path) as reader:
            layout = reader.info.keypoints_layout
            batch = reader.read(datasets=names)
            for name in names:
                parts[name].append(np.asarray(batch[name]))
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    arrays["layout"] = layout
    return arrays


def evaluate_vp3d(shards: dict[str, list[Path]], epochs: int, threads: int, min_steps: int = 0):
    """The reference, trained on the train subjects with its own recipe (no selection), on the test subjects.

    The recipe's 60 epochs of batch 1024 were sized for Human3.6M's 1.5 M frames; on a few thousand
    samples they are a few hundred steps. `min_steps` stretches the same schedule (epochs x k, lr
    decay 0.95^(1/k) per epoch, so the total decay is unchanged) to at least that many steps.
    """
    import math

    import torch

    from benchmarks import vp3d_single_frame as vp3d

    torch.set_num_threads(threads)
    train, test = _read_arrays(shards["train"]), _read_arrays(shards["test"])

    def screen(arrays):
        return vp3d.screen_coordinates(arrays["keypoints_2d"], arrays["intrinsics"], arrays["crop"])

    recipe = vp3d.Recipe(epochs=epochs)
    steps_per_epoch = math.ceil(2 * len(train["joints_3d"]) / recipe.batch_size)  # each sample twice: mirrored too
    stretch = max(1, math.ceil(min_steps / (steps_per_epoch * epochs)))
    if stretch > 1:
        recipe = vp3d.Recipe(epochs=epochs * stretch, lr_decay=recipe.lr_decay ** (1.0 / stretch))
    model = vp3d.train(screen(train), train["joints_3d"], train["layout"], recipe)
    predicted = vp3d.predict_mm(model, screen(test), test["layout"])
    true = test["joints_3d"].astype("float64")
    steps = steps_per_epoch * recipe.epochs
    return predicted, true, test["action"], {"epochs": recipe.epochs, "steps": steps, "recipe": recipe.__dict__}


def variant_label(variant: dict[str, Any]) -> str:
    inputs = variant.get("inputs")
    if variant["model"] == "lifter" or variant["model"] == "vp3d_single_frame":
        inputs = ["keypoints"]
    label = f"{variant['model']} [{'+'.join(inputs or ['rgb', 'depth', 'keypoints'])}]"
    if variant.get("min_steps"):
        label += f" >= {variant['min_steps']} steps"
    if on_lifter(variant):
        label += " on the lifter"
    return label


def on_lifter(variant: dict[str, Any]) -> bool:
    """Whether an image-model row corrects the keypoint-only lifter row (its default, `BENCH_BASE_MODEL`)."""
    if variant["model"] not in ("cnn", "transformer"):
        return False
    return variant.get("base_model", BENCH_BASE_MODEL) == "lifter"


def run_folder(workdir: Path, perception: str, variant: dict[str, Any]) -> Path:
    """Where a row trains: its checkpoints, and the base lifter for the image rows after it."""
    label = variant_label(variant)
    return workdir / perception / "models" / label.replace(" ", "_").replace("[", "").replace("]", "")


def markdown(rows: list[dict[str, Any]], perceptions: list[str]) -> str:
    lines = ["| model [inputs] | " + " | ".join(f"{p} MPJPE | {p} PA-MPJPE" for p in perceptions) + " |",
             "|---|" + "---:|---:|" * len(perceptions)]
    labels = list(dict.fromkeys(row["label"] for row in rows))
    for label in labels:
        cells = []
        for perception in perceptions:
            found = [r for r in rows if r["label"] == label and r["perception"] == perception]
            if found and "average" in found[0]:
                cells += [f"{found[0]['average']['mpjpe']:.1f}", f"{found[0]['average']['pa_mpjpe']:.1f}"]
            else:
                cells += ["–", "–"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    actions = sorted({a for row in rows for a in row.get("per_action", {})})
    if actions:
        lines += ["", "Per action, MPJPE (mm):", "",
                  "| model [inputs] | perception | " + " | ".join(actions) + " |",
                  "|---|---|" + "---:|" * len(actions)]
        for row in rows:
            if "per_action" in row:
                values = [f"{row['per_action'][a]['mpjpe']:.0f}" if a in row["per_action"] else "–" for a in actions]
                lines.append(f"| {row['label']} | {row['perception']} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller dataset and grid (minutes)")
    parser.add_argument("--workdir", type=Path, default=REPO / "results" / "bench_accuracy")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: on a shared machine more threads spin and slow down)")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes")
    parser.add_argument("--perception", action="append", default=[], metavar="NAME=JSON",
                        help="a perception column: overrides of the config's perception: section")
    parser.add_argument("--set", default="{}", metavar="JSON", help="config overrides for every row, e.g. model sizes")
    parser.add_argument("--only-perception", action="append", default=[], help="run only these perception columns")
    parser.add_argument("--only", action="append", default=[], help="run only rows whose label contains this")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows of an existing output file and run only the missing ones (implies --update)")
    parser.add_argument("--update", action="store_true",
                        help="keep the other rows of an existing output file, replace those run now")
    args = parser.parse_args()
    offline_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import yaml

    from pose3d.evaluate.report import summarize

    spec = yaml.safe_load((REPO / "benchmarks" / "accuracy.yaml").read_text())
    mode = "quick" if args.quick else "full"
    variants = spec["variants"]
    vp3d_epochs = 60
    if args.quick:
        from pose3d.config import deep_merge

        spec["config"] = deep_merge(spec["config"], spec["quick"]["config"])
        variants = spec["quick"]["variants"]
        vp3d_epochs = spec["quick"].get("vp3d_epochs", vp3d_epochs)
    if args.set:
        from pose3d.config import deep_merge

        spec["config"] = deep_merge(spec["config"], json.loads(args.set))
    perceptions = dict(spec["perception"])
    for item in args.perception:
        name, _, text = item.partition("=")
        perceptions[name] = json.loads(text) if text else {}
    if args.only_perception:
        perceptions = {name: perceptions[name] for name in args.only_perception}
    if args.only:
        variants = [v for v in variants if any(word in variant_label(v) for word in args.only)]
    workdir = args.workdir / mode
    data_root = workdir / "synthetic"
    output = args.output or REPO / "benchmarks" / "results" / ("accuracy_quick.json" if args.quick else "accuracy.json")

    if args.resume:
        args.update = True
    existing = json.loads(output.read_text()) if args.update and output.exists() else None
    done = {(row["label"], row["perception"]) for row in existing["rows"]} if args.resume and existing else set()
    rows: list[dict[str, Any]] = []
    started_all = time.perf_counter()
    for perception, settings in perceptions.items():
        config = build_config(spec, {"dataset": {"root": str(data_root)}, "perception": settings})
        started = time.perf_counter()
        chunks = prepare_data(config, workdir, perception, args.workers)
        data_seconds = time.perf_counter() - started
        shards = {part: [chunks[s] for s in spec["subjects"][part]] for part in ("train", "val", "test")}
        for variant in variants:
            if perception not in variant.get("perceptions", [perception]) or (variant_label(variant), perception) in done:
                continue
            label = variant_label(variant)
            log.info("== %s, perception %s", label, perception)
            started = time.perf_counter()
            if variant["model"] == "vp3d_single_frame":
                predicted, true, actions, extra = evaluate_vp3d(
                    shards, vp3d_epochs, args.threads, variant.get("min_steps", 0)
                )
            else:
                section = {key: variant[key] for key in ("inputs", "base_model", "train") if key in variant}
                if variant["model"] in ("cnn", "transformer"):
                    section.setdefault("base_model", BENCH_BASE_MODEL)
                overrides = {"model": {variant["model"]: section}} if section else {}
                variant_config = build_config(
                    spec, {"dataset": {"root": str(data_root)}, "perception": settings, **overrides}
                )
                # The base of the image rows: the lifter row of this perception (trained first, or earlier).
                base = run_folder(workdir, perception, {"model": "lifter"}) / "best.pt" if on_lifter(variant) else None
                predicted, true, actions, extra = evaluate_pose3d_model(
                    variant_config, variant["model"], shards, run_folder(workdir, perception, variant), args.threads,
                    base,
                )
            summary = summarize(predicted, true, actions)
            row = {"label": label, "perception": perception, "model": variant["model"],
                   "inputs": variant.get("inputs", ["keypoints"]), "average": summary["average"],
                   "per_action": summary["per_action"], "train_seconds": time.perf_counter() - started, **extra}
            rows.append(row)
            log.info("%s / %s: MPJPE %.1f mm, PA-MPJPE %.1f mm", label, perception,
                     summary["average"]["mpjpe"], summary["average"]["pa_mpjpe"])
        if ("(data)", perception) not in done:  # a resumed run keeps the first run's data time
            rows.append({"label": "(data)", "perception": perception, "data_seconds": data_seconds,
                         "samples": {part: _count(paths) for part, paths in shards.items()}})
    if existing:
        fresh = {(row["label"], row["perception"]) for row in rows}
        rows = [row for row in existing["rows"] if (row["label"], row["perception"]) not in fresh] + rows
        order = {label: index for index, label in enumerate(variant_label(v) for v in spec["variants"])}
        rows.sort(key=lambda row: (order.get(row["label"], len(order)), row["perception"]))
    table = markdown([r for r in rows if r["label"] != "(data)"], list(perceptions))
    results = {
        "benchmark": "accuracy", "mode": mode, "units": "mm",
        "protocol": "MPJPE after root alignment, PA-MPJPE after similarity Procrustes; mean over actions "
                    "(and per action); test subjects only; model selection on the validation subjects "
                    f"(best.pt: lowest validation {spec['config']['train'].get('select_on', 'mpjpe')})",
        "subjects": spec["subjects"], "perception": perceptions, "rows": rows,
        "seconds": time.perf_counter() - started_all + (existing.get("seconds", 0.0) if args.resume and existing else 0.0),
        "table_markdown": table,
        "note": "timings from a shared, loaded 2-core machine",
    }
    write_results(output, results)
    output.with_suffix(".md").write_text(table)
    print(table)


def _count(paths: list[Path]) -> int:
    from pose3d.shards.reader import ShardReader

    total = 0
    for path in paths:
        with ShardReader(path) as reader:
            total += len(reader)
    return total


if __name__ == "__main__":
    main()

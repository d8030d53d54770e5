"""Which input helps, on a finished workflow's own shards: model x inputs -> test MPJPE, PA-MPJPE.

Where `bench_accuracy.py` builds its own larger dataset, this reads what a `make run` (or any
config) already wrote under `--results` (shuffled/train, split/val, split/test) and trains each
row as the `train` rule would (`build_trainer`: best epoch on the validation takes), then predicts
the test shards once, as `evaluate` does (MPJPE after root alignment, PA-MPJPE, mean over actions).
Run it once per results folder (e.g. one built with `perception.depth.error_model: oracle`) to
compare perception settings; the shards' own `source` attribute says which inputs made them.

    .venv/bin/python benchmarks/bench_ablation.py --results results --row cnn:rgb,depth,keypoints \\
        --row lifter --row cnn:keypoints [--epochs 12] [--label realistic] [--base-model none]

Image models with `base_model: lifter` (or `depth_lifter`) correct the model of an earlier row of that
name (or `--base`): put `--row depth_lifter` before the image rows of the default config.

Writes benchmarks/results/ablation_{label}.json and .md (rows appended to an existing file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.harness import offline_environment, write_results  # noqa: E402


def parse_row(text: str) -> tuple[str, list[str] | None]:
    """"cnn:rgb,keypoints" -> ("cnn", ["rgb", "keypoints"]); "lifter" -> ("lifter", None)."""
    model, _, inputs = text.partition(":")
    return model, (inputs.split(",") if inputs else None)


def run_row(config_path: Path, results: Path, model: str, inputs: list[str] | None, epochs: int | None,
            out_dir: Path, threads: int, base_model: str | None = None,
            bases: dict[str, Path] | None = None) -> dict[str, Any]:
    """Train one row as the `train` rule would and predict the test shards once; `bases`: the best.pt of
    the lifter rows run so far (or `--base`), by model name, for an image model on one of them."""
    import torch
    import yaml

    from pose3d.config import config_from_dict, deep_merge
    from pose3d.evaluate.report import summarize
    from pose3d.evaluate.run import predict, shards_attr
    from pose3d.models.registry import LIFTER_MODELS, load_model_from_checkpoint
    from pose3d.shards import schema
    from pose3d.training.distributed import DistContext
    from pose3d.training.pipeline import build_trainer

    torch.set_num_threads(threads)
    overrides: dict[str, Any] = {"train": {"preview_samples": 0, "device": "cpu"}}
    overrides["model"] = {model: {}}
    if inputs is not None:
        overrides["model"][model]["inputs"] = inputs
    if base_model is not None and model not in LIFTER_MODELS:
        overrides["model"][model]["base_model"] = base_model
    if epochs is not None and model not in LIFTER_MODELS:
        overrides["train"]["epochs"] = epochs
    config = config_from_dict(deep_merge(yaml.safe_load(config_path.read_text()), overrides))
    base_name = getattr(getattr(config.model, model), "base_model", "none")
    base_checkpoint = (bases or {}).get(base_name) if base_name != "none" else None
    shards = {split: sorted((results / folder).glob("*.h5")) for split, folder in
              (("train", "shuffled/train"), ("val", "split/val"), ("test", "split/test"))}
    missing = [split for split, paths in shards.items() if not paths]
    if missing:
        raise SystemExit(f"{results}: no shards for {missing}; run the workflow (make run) first")
    started = time.perf_counter()
    trainer = build_trainer(config, model, shards["train"], shards["val"], out_dir, DistContext(),
                            base_checkpoint=base_checkpoint)
    history = trainer.fit()
    seconds = time.perf_counter() - started
    best_model, _ = load_model_from_checkpoint(out_dir / "best.pt", "cpu")
    result = predict(best_model, shards["test"], config.evaluate.batch_size, 0, torch.device("cpu"))
    summary = summarize(result.predicted_mm, result.true_mm, result.provenance[schema.ACTION])
    best = min(history, key=lambda record: record.get("val_mpjpe", float("inf")))
    return {
        "model": model, "inputs": list(getattr(best_model, "inputs", ())),
        "base_model": base_name,
        "epochs": len(history), "steps": int(history[-1]["step"]), "best_epoch": best["epoch"],
        "val_mpjpe": best["val_mpjpe"], "train_seconds": round(seconds, 1),
        "test_mpjpe": summary["average"]["mpjpe"], "test_pa_mpjpe": summary["average"]["pa_mpjpe"],
        "per_action": summary.get("per_action"),
        "shard_source": shards_attr(shards["test"], schema.ATTR_SOURCE),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| model [inputs] | epochs (steps) | val MPJPE | test MPJPE | test PA-MPJPE | train s |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        base = f" on the {row['base_model']}" if row.get("base_model", "none") != "none" else ""
        lines.append(f"| {row['model']} [{'+'.join(row['inputs'])}]{base} | {row['epochs']} ({row['steps']}) | "
                     f"{row['val_mpjpe']:.1f} | {row['test_mpjpe']:.1f} | {row['test_pa_mpjpe']:.1f} | "
                     f"{row['train_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results", help="a finished workflow's results folder")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml", help="the config that made it")
    parser.add_argument("--row", action="append", required=True, help="MODEL[:INPUT,INPUT,...], repeatable")
    parser.add_argument("--epochs", type=int, default=None, help="image models' epochs (default: the config's)")
    parser.add_argument("--label", default="default", help="names the output files, e.g. the perception setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--base-model", choices=["none", "lifter", "depth_lifter"], default=None,
                        help="image models from scratch or as a correction of that lifter (default: the config's)")
    parser.add_argument("--base", type=Path, default=None,
                        help="the base lifter's best.pt (default: the row of that model run before them)")
    args = parser.parse_args()
    offline_environment()
    from pose3d.models.registry import LIFTER_MODELS

    out = REPO / "benchmarks" / "results" / f"ablation_{args.label}.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    rows = previous.get("rows", [])
    # The base of an image row, by lifter name: --base for every one, else the row of that lifter run before it.
    bases: dict[str, Path] = dict.fromkeys(LIFTER_MODELS, args.base) if args.base else {}
    for text in args.row:
        model, inputs = parse_row(text)
        work = REPO / "benchmarks" / "results" / "ablation_runs" / args.label / text.replace(":", "_").replace(",", "-")
        row = run_row(args.config, args.results, model, inputs, args.epochs, work, args.threads,
                      args.base_model, bases)
        if inputs is None and model in LIFTER_MODELS:
            bases.setdefault(model, work / "best.pt")
        print(json.dumps({k: v for k, v in row.items() if k != "per_action"}))
        rows.append(row)
    write_results(out, {"label": args.label, "results": str(args.results),
                        "split": "test (S9, S11 by default); best.pt chosen on split/val", "averaging":
                        "mean over actions", "rows": rows})
    out.with_suffix(".md").write_text(markdown(rows))


if __name__ == "__main__":
    main()

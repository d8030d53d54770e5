"""Files made for the HTML report: the models table, training curves, the contact sheet (or why there is none)."""

from __future__ import annotations

import json

import cv2

from pose3d.report import best_epoch_index, copy_contact_sheet, plot_training_curves, write_models_table


def _metrics(model: str, mpjpe: float) -> dict:
    average = {"mpjpe": mpjpe, "pa_mpjpe": mpjpe * 0.7, "n_mpjpe": mpjpe * 0.9}
    return {
        "model_name": model, "split": "test", "num_samples": 640, "checkpoint_epoch": 7,
        "model": {"average": average}, "baseline": {"average": {"mpjpe": 222.2, "pa_mpjpe": 150.0}},
        "mpjpe_ratio_to_baseline": mpjpe / 222.2, "model_selection": {"split": "val", "mpjpe": mpjpe - 3},
        "inputs": {"kind": "simulated perception", "keypoints": "simulated detector", "depth": "simulated estimator"},
    }


def test_models_table_lists_every_model_with_split_and_inputs(tmp_path):
    paths = []
    for model, mpjpe in (("cnn", 75.84), ("lifter", 90.0)):
        paths.append(tmp_path / model / "metrics.json")
        paths[-1].parent.mkdir()
        metrics = _metrics(model, mpjpe)
        if model == "lifter":  # selected on N-MPJPE; the cnn's file predates train.select_on (MPJPE)
            metrics["model_selection"].update(metric="n_mpjpe", value=mpjpe - 9)
        paths[-1].write_text(json.dumps(metrics))
    rows = write_models_table(paths, tmp_path / "report" / "models.html")
    page = (tmp_path / "report" / "models.html").read_text()
    assert [row["model"] for row in rows] == ["cnn", "lifter"]
    assert "<td>cnn</td><td>test</td><td>640</td><td>75.8</td>" in page and "<td>90.0</td>" in page
    assert "simulated detector" in page and "validation split" in page
    assert [row["selected_on"] for row in rows] == ["val MPJPE", "val N-MPJPE"]
    assert "<td>72.8</td><td>7</td><td>val MPJPE</td>" in page  # val MPJPE at best.pt, its epoch, the rule
    # Beside the mean pose, the keypoint lifter evaluated on the same samples: the field's baseline.
    assert "<td>0.34</td><td>0.84x</td>" in page and "<td>0.41</td><td>1.00x</td>" in page
    alone = write_models_table(paths[:1], tmp_path / "report" / "alone.html")  # no lifter: the cell stays empty
    assert "<td>0.34</td><td></td>" in (tmp_path / "report" / "alone.html").read_text() and len(alone) == 1


def test_best_epoch_is_the_last_one_the_trainer_marked():
    marked = [{"epoch": 1, "val_mpjpe": 50.0, "is_best": True}, {"epoch": 2, "val_mpjpe": 40.0, "is_best": True},
              {"epoch": 3, "val_mpjpe": 30.0, "is_best": False}]  # epoch 3: lower MPJPE, not lower select_on
    assert best_epoch_index(marked) == 1
    unmarked = [{"epoch": 1, "val_mpjpe": 50.0}, {"epoch": 2, "val_mpjpe": 30.0}, {"epoch": 3, "val_mpjpe": 40.0}]
    assert best_epoch_index(unmarked) == 1  # a history written before the marks: the lowest val MPJPE
    assert best_epoch_index([{"epoch": 1}]) is None


def test_training_curves_and_contact_sheet_are_images(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_mpjpe": 100.0 - e, "val_pa_mpjpe": 80.0 - e,
                "val_split": "val"} for e in (1, 2, 3)]
    plot_training_curves(history, tmp_path / "curves.png", "cnn")
    assert cv2.imread(str(tmp_path / "curves.png")) is not None
    copy_contact_sheet(tmp_path / "no_infer", tmp_path / "placeholder.png")  # no sheet: an image that says so
    assert cv2.imread(str(tmp_path / "placeholder.png")) is not None
    (tmp_path / "infer").mkdir()
    cv2.imwrite(str(tmp_path / "infer" / "contact_sheet.png"), cv2.imread(str(tmp_path / "curves.png")))
    copy_contact_sheet(tmp_path / "infer", tmp_path / "sheet.png")
    assert (cv2.imread(str(tmp_path / "sheet.png")) == cv2.imread(str(tmp_path / "curves.png"))).all()

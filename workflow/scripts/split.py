"""Snakemake script of rule `split`: subject chunks -> train, validation and test shards."""


from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.shards.holdout import split_train_val_test  # noqa: E402

subjects = snakemake.params.subjects  # noqa: F821
split_train_val_test(
    list(snakemake.input.chunks),  # noqa: F821
    subjects["train"],
    subjects["test"],
    snakemake.params.val_fraction,  # noqa: F821
    {name: list(snakemake.output[name]) for name in ("train", "val", "test")},  # noqa: F821
)

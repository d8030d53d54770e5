"""Snakemake script of rule `split`: subject chunks -> train and test shards."""


from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.shards.ops import split_by_subject  # noqa: E402

chunks = list(snakemake.input.chunks)  # noqa: F821
subjects = snakemake.params.subjects  # noqa: F821
split_by_subject(chunks, subjects["train"], list(snakemake.output.train))  # noqa: F821
split_by_subject(chunks, subjects["test"], list(snakemake.output.test))  # noqa: F821

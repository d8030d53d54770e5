"""Snakemake script of rule `shuffle`: the seeded global shuffle of the train shards."""


from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.shards.ops import shuffle_shards  # noqa: E402

shuffle_shards(list(snakemake.input.shards), list(snakemake.output.shards), snakemake.params.seed)  # noqa: F821

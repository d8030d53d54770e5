"""Snakemake script of rule `index`: one subject's annotation JSONs -> its HDF5 annotation index."""

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.datasets.index import build_index  # noqa: E402

build_index(
    snakemake.params.dataset["root"],  # noqa: F821
    int(snakemake.wildcards.subject),  # noqa: F821
    snakemake.output[0],  # noqa: F821
    camera_t=snakemake.params.dataset["camera_t"],  # noqa: F821
)

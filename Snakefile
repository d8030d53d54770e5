# pose3d: RGB images of people -> 3D human poses, Human3.6M-style.
# `snakemake --cores all` runs the embedded default (config/config.yaml) end to end.
# Stages: synthesize -> index -> preprocess -> chunk -> split -> shuffle -> train -> evaluate -> infer.

from snakemake.utils import min_version

min_version("8.20")


configfile: "config/config.yaml"


report: "report/workflow.rst"  # `make report` (snakemake --report results/report.html) describes the run with it


include: "rules/common.smk"
include: "rules/synthesize.smk"
include: "rules/index.smk"
include: "rules/preprocess.smk"
include: "rules/chunk.smk"
include: "rules/split.smk"
include: "rules/shuffle.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/infer.smk"
include: "rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True

# split: the subject chunks -> train and test shards of balanced sizes. Shard counts come from the
# config, so every output is known when the DAG is built. The subjects are params: editing them in
# config.yaml reruns split (and what follows), never preprocess or chunk.


rule split:
    input:
        chunks=split_chunks(),
    output:
        train=[remote_or_local(f"{RESULTS}/split/train/{name}") for name in shard_names(CFG.split.train_shards)],
        test=[remote_or_local(f"{RESULTS}/split/test/{name}") for name in shard_names(CFG.split.test_shards)],
    params:
        # One mapping, not two lists: Snakemake compares sorted param reprs, so swapping the
        # train and test lists would otherwise look unchanged.
        subjects={"train": CFG.split.train_subjects, "test": CFG.split.test_subjects},
    log:
        f"{LOGS}/split/split.log",
    benchmark:
        f"{BENCH}/split/split.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/split.py"

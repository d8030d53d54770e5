# split: the subject chunks -> train, validation and test shards of balanced sizes. Test holds the
# test subjects; validation holds whole takes (every camera of a subject/action/subaction) of the
# train subjects, split.val_fraction of each action's takes (pose3d/shards/holdout.py); train the
# rest. Shard counts come from the config, so every output is known when the DAG is built. The
# subjects and the fraction are params: editing them reruns split (and what follows), never
# preprocess or chunk.


rule split:
    input:
        chunks=split_chunks(),
    output:
        train=[remote_or_local(f"{RESULTS}/split/train/{name}") for name in shard_names(CFG.split.train_shards)],
        val=[remote_or_local(path) for path in VAL_SHARDS],
        test=[remote_or_local(path) for path in TEST_SHARDS],
    params:
        # One mapping, not two lists: Snakemake compares sorted param reprs, so swapping the
        # train and test lists would otherwise look unchanged.
        subjects={"train": CFG.split.train_subjects, "test": CFG.split.test_subjects},
        val_fraction=CFG.split.val_fraction,
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

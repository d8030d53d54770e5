# shuffle: a global, seeded shuffle of the train shards into as many shuffled shards. Memory is
# about one output shard (random target shard per sample, then a permutation within each), so
# mem_mb scales with the shard size, not with the dataset.


rule shuffle:
    input:
        shards=[remote_or_local(f"{RESULTS}/split/train/{name}") for name in shard_names(CFG.split.train_shards)],
    output:
        shards=[remote_or_local(f"{RESULTS}/shuffled/train/{name}") for name in shard_names(CFG.split.train_shards)],
    params:
        seed=CFG.shuffle.seed,
    log:
        f"{LOGS}/shuffle/shuffle.log",
    benchmark:
        f"{BENCH}/shuffle/shuffle.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/shuffle.py"

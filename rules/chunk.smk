# chunk: one job per subject. Joins the subject's preprocessed sequences, RGB crops (read from the
# dataset images) and camera-space 3D joints into one shard in the format of pose3d/shards/schema.py.
# Pure CPU work (image decode, warp, JPEG encode).


rule chunk:
    input:
        preprocessed=lambda wildcards: [
            f"{RESULTS}/preprocessed/{sequence}.h5" for sequence in sequences_of_subject(wildcards.subject)
        ],
        dataset=dataset_marker(),
    output:
        remote_or_local(f"{RESULTS}/chunks/S{{subject}}.h5"),
    wildcard_constraints:
        subject=r"\d+",
    params:
        # Only what this stage reads, so a change of e.g. the split never reruns chunk. The dataset
        # (whose images it crops) is named as a mapping: the script reads the root from the config.
        shards=CFG.to_dict()["shards"],
        dataset={"source": CFG.dataset.source, "root": CFG.dataset.root},
    log:
        f"{LOGS}/chunk/S{{subject}}.log",
    benchmark:
        f"{BENCH}/chunk/S{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/chunk.py"

# preprocess: one job per sequence folder (subject/action/subaction/camera), so a cluster runs them
# in parallel and a failure loses one sequence. 2D keypoints + person box + depth crop per frame.
# A GPU is requested only when a backend runs a network (yolo or depthpro); the default
# groundtruth + dataset backends are pure CPU work.


rule preprocess:
    input:
        dataset_marker(),
    output:
        h5=f"{RESULTS}/preprocessed/{{sequence}}.h5",
        report=f"{RESULTS}/preprocessed/{{sequence}}.report.json",
    wildcard_constraints:
        sequence="|".join(SEQUENCES) or "no-sequence-configured",
    params:
        # Only what this stage reads, so that editing e.g. the split never reruns preprocess
        # (Snakemake reruns a job whose params changed). The script types the full config itself.
        perception=CFG.to_dict()["perception"],
        frame_step=CFG.dataset.frame_step,
        image_size=CFG.shards.image_size,  # the depth crop's pixel centres follow the RGB crop's
        depth_size=CFG.shards.depth_size,
        crop_padding=CFG.shards.crop_padding,
    log:
        f"{LOGS}/preprocess/{{sequence}}.log",
    benchmark:
        f"{BENCH}/preprocess/{{sequence}}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: (16000 if preprocess_wants_gpu() else 2000) * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
        gpu=preprocess_wants_gpu(),
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/preprocess.py"

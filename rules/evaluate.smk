# evaluate: the best checkpoint on the test shards -> metrics.json, per_action.csv, metrics.md,
# per_joint.png, worst_median.png in results/eval/{model}/. The train shards are read for the
# mean-pose baseline, measured in the same run and reported beside the model.


rule evaluate:
    input:
        checkpoint=f"{RESULTS}/models/{{model}}/best.pt",
        test=shard_inputs(TEST_SHARDS),
        train=shard_inputs(TRAIN_SHARDS),
    output:
        metrics=f"{RESULTS}/eval/{{model}}/metrics.json",
        per_action=report(
            f"{RESULTS}/eval/{{model}}/per_action.csv",
            caption="../report/per_action.rst",
            category="1. Metrics",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "per-action table"},
        ),
        table=f"{RESULTS}/eval/{{model}}/metrics.md",
        per_joint=report(
            f"{RESULTS}/eval/{{model}}/per_joint.png",
            caption="../report/per_joint.rst",
            category="2. Per-joint error",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "per-joint MPJPE"},
        ),
        sheet=report(
            f"{RESULTS}/eval/{{model}}/worst_median.png",
            caption="../report/worst_median.rst",
            category="3. Worst and median samples",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "worst / median sheet"},
        ),
    wildcard_constraints:
        model="|".join(CFG.models),
    params:
        # Shard paths relative to the remote (or local), and the remote without its credentials:
        # the script rebuilds the real rclone queries from the config, so no secret is a param.
        train_shards=TRAIN_SHARDS,
        test_shards=TEST_SHARDS,
        remote=redact_secrets(CFG.storage.remote),
        evaluate=CFG.to_dict()["evaluate"],
        protocol_frames=PROTOCOL_FRAMES,
    log:
        f"{LOGS}/evaluate/{{model}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/evaluate.py"

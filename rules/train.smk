# train: one model on the shuffled train shards, validated each epoch on the validation shards
# (whole takes of the train subjects; the test shards are no input of this rule).
# Writes best.pt (lowest validation MPJPE, mean over actions), history.json and tensorboard/. The
# resume checkpoints (checkpoints/last.pt, checkpoints/best.pt) are deliberately not outputs:
# Snakemake deletes the outputs of a failed or rerun job, and a killed or preempted training must
# continue from them. A rerun resumes whenever checkpoints/last.pt was made with the same weight
# settings, shards and number of processes, and starts fresh otherwise (the log says which and why).
# With train.gpus > 1 the script re-launches itself under torchrun (DDP, one process per GPU);
# the `gpu` resource asks the executor (e.g. SLURM) for that many GPUs on one node
# (model.<model>.train.gpus overrides it per model: a lifter needs one). Multi-node
# training is started by hand with srun + torchrun (see pose3d/training/launch.py).


rule train:
    input:
        train=shard_inputs(TRAIN_SHARDS),
        val=shard_inputs(VAL_SHARDS),
        # model.<model>.base_model: lifter | depth_lifter -> the trained lifter this model corrects.
        base=lambda wildcards: base_model_input(wildcards.model),
    output:
        best=f"{RESULTS}/models/{{model}}/best.pt",
        history=f"{RESULTS}/models/{{model}}/history.json",
        tensorboard=directory(f"{RESULTS}/models/{{model}}/tensorboard"),
    wildcard_constraints:
        model="|".join(CFG.models),
    params:
        # Shard paths relative to the remote (or local), and the remote without its credentials:
        # the script rebuilds the real rclone queries from the config, so no secret is a param.
        train_shards=TRAIN_SHARDS,
        val_shards=VAL_SHARDS,
        remote=redact_secrets(CFG.storage.remote),
        # Only what changes the trained weights (not log_every, num_workers, device, ...), with the
        # model's own train settings (model.<name>.train) merged in, so other edits do not retrain;
        # the script types the full config itself.
        weights=lambda wildcards: weight_settings(CFG, wildcards.model),
    log:
        f"{LOGS}/train/{{model}}.log",
    benchmark:
        f"{BENCH}/train/{{model}}.tsv"
    threads: lambda wildcards: model_training_config(CFG, wildcards.model).train.num_workers + 1
    # Most retries of train are a training stopped at its time limit, not short of memory: asking for
    # more memory each time (x3, x4, ...) would leave the job waiting for a node that does not exist,
    # and it resumes, so a longer runtime buys nothing. Memory doubles once (an out-of-memory kill).
    resources:
        mem_mb=lambda wildcards, attempt: (16000 if train_wants_gpu(wildcards.model) else 4000) * min(attempt, 2),
        runtime=240,
        gpu=lambda wildcards: train_wants_gpu(wildcards.model),
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/train.py"

# train: one model on the shuffled train shards, validated each epoch on the validation shards
# (whole takes of the train subjects; the test shards are no input of this rule).
# Writes best.pt (lowest validation MPJPE, mean over actions), last.pt (resumable), history.json and tensorboard/.
# With train.gpus > 1 the script re-launches itself under torchrun (DDP, one process per GPU);
# the `gpu` resource asks the executor (e.g. SLURM) for that many GPUs on one node. Multi-node
# training is started by hand with srun + torchrun (see pose3d/training/launch.py).


rule train:
    input:
        train=shard_inputs(TRAIN_SHARDS),
        val=shard_inputs(VAL_SHARDS),
    output:
        best=f"{RESULTS}/models/{{model}}/best.pt",
        last=f"{RESULTS}/models/{{model}}/last.pt",
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
        # What this stage reads, so a change reruns it (the script types the full config itself).
        train=lambda wildcards: model_training_config(CFG, wildcards.model).to_dict()["train"],
        model=lambda wildcards: CFG.to_dict()["model"][wildcards.model],
        evaluate_batch_size=CFG.evaluate.batch_size,
    log:
        f"{LOGS}/train/{{model}}.log",
    benchmark:
        f"{BENCH}/train/{{model}}.tsv"
    threads: lambda wildcards: model_training_config(CFG, wildcards.model).train.num_workers + 1
    resources:
        mem_mb=lambda wildcards, attempt: (16000 if train_wants_gpu() else 4000) * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
        gpu=train_wants_gpu(),
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/train.py"

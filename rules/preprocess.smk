# preprocess: 2D keypoints + person box + depth crop per frame, one output file per sequence folder
# (subject/action/subaction/camera). perception.frames_per_job = 0: one job per sequence, so a cluster
# runs them in parallel and a failure loses one sequence. > 0: a subject's sequences are packed into
# jobs of about that many frames (pose3d.preprocess_jobs), the networks loaded once per job.
# A GPU is requested only when a backend runs a network (yolo or depthpro); the default
# groundtruth + dataset backends are pure CPU work.


if not CFG.perception.frames_per_job:

    rule preprocess:
        input:
            dataset=dataset_marker(),
            index=lambda wildcards: f"{RESULTS}/index/S{subject_of(wildcards.sequence)}.h5",
        output:
            h5=f"{RESULTS}/preprocessed/{{sequence}}.h5",
            report=f"{RESULTS}/preprocessed/{{sequence}}.report.json",
        wildcard_constraints:
            sequence="|".join(SEQUENCES) or "no-sequence-configured",
        params:
            # Only what this stage reads, so that editing e.g. the split never reruns preprocess
            # (Snakemake reruns a job whose params changed). The script types the full config itself.
            perception=perception_params(),
            image_size=CFG.shards.image_size,  # the depth crop's pixel centres follow the RGB crop's
            # The subject's role in the split decides its step: moving a subject between train and test
            # reruns its own sequences (their frames change), no other subject's.
            frame_step=lambda wildcards: frame_step_for_subject(CFG, subject_of(wildcards.sequence)),
            depth_size=CFG.shards.depth_size,
            crop_padding=CFG.shards.crop_padding,
        log:
            f"{LOGS}/preprocess/{{sequence}}.log",
        benchmark:
            f"{BENCH}/preprocess/{{sequence}}.tsv"
        threads: 2
        resources:
            mem_mb=preprocess_mem_mb,
            runtime=lambda wildcards, attempt: 120 * attempt,
            gpu=preprocess_wants_gpu(),
        conda:
            CONDA_ENV
        script:
            "../workflow/scripts/preprocess.py"

else:

    PREPROCESS_JOBS = pack_sequences(
        PLAN.frames,  # annotated frames per sequence: the catalog (real data) or the generator's settings
        {subject: frame_step_for_subject(CFG, subject) for subject in CFG.dataset.subjects},
        CFG.perception.frames_per_job,
    )

    for preprocess_job in PREPROCESS_JOBS:
        share_profile_settings(f"preprocess_{preprocess_job.name}")

        rule:
            name:
                f"preprocess_{preprocess_job.name}"
            input:
                dataset=dataset_marker(),
                index=f"{RESULTS}/index/S{preprocess_job.subject}.h5",
            output:
                h5=[f"{RESULTS}/preprocessed/{sequence}.h5" for sequence in preprocess_job.sequences],
                report=[f"{RESULTS}/preprocessed/{sequence}.report.json" for sequence in preprocess_job.sequences],
            params:
                sequences=list(preprocess_job.sequences),
                perception=perception_params(),
                image_size=CFG.shards.image_size,
                frame_step=frame_step_for_subject(CFG, preprocess_job.subject),
                depth_size=CFG.shards.depth_size,
                crop_padding=CFG.shards.crop_padding,
            log:
                f"{LOGS}/preprocess/{preprocess_job.name}.log",
            benchmark:
                f"{BENCH}/preprocess/{preprocess_job.name}.tsv"
            threads: 4
            resources:
                mem_mb=preprocess_mem_mb,
                runtime=packed_runtime(preprocess_job.frames),
                gpu=preprocess_wants_gpu(),
            conda:
                CONDA_ENV
            script:
                "../workflow/scripts/preprocess_batch.py"

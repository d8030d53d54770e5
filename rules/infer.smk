# infer: a trained model on images -> per-image {name}.npy/.json, panels/{name}.png, contact_sheet.png,
# summary.json in results/infer/{model}/. With infer.images == "" it reads held-out images of the
# first test subject (split.test_subjects[0]) from dataset.root/images, at most infer.max_images.
# Only summary.json is declared: the other file names depend on the images found.
# A GPU is requested only when a backend runs a network (yolo or depthpro) and the device is not cpu;
# the default dataset backends and the small pose model are CPU work.


rule infer:
    input:
        checkpoint=f"{RESULTS}/models/{{model}}/best.pt",
        dataset=dataset_marker(),
    output:
        summary=f"{RESULTS}/infer/{{model}}/summary.json",
    wildcard_constraints:
        model="|".join(CFG.models),
    params:
        # What this stage reads, so a change reruns it (the script types the full config itself).
        infer=CFG.to_dict()["infer"],
        perception=CFG.to_dict()["perception"],
    log:
        f"{LOGS}/infer/{{model}}.log",
    benchmark:
        f"{BENCH}/infer/{{model}}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: (16000 if infer_wants_gpu() else 3000) * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
        gpu=infer_wants_gpu(),
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/infer.py"

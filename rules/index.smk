# index: one job per subject. Parses the subject's annotation JSONs (hundreds of MB each in the
# real release) once into a compact HDF5 index (frames, boxes, camera-space joints, cameras) that
# every preprocess job of the subject reads instead. dataset_report: what the DAG processes and
# which sequence folders it leaves out, with reasons (pose3d.datasets.catalog).


rule index:
    input:
        lambda wildcards: annotation_files(wildcards.subject),
    output:
        f"{RESULTS}/index/S{{subject}}.h5",
    wildcard_constraints:
        subject=r"\d+",
    params:
        # The dataset it parses, named as a mapping (a path param would be a dependency Snakemake cannot see).
        dataset={"root": CFG.dataset.root, "camera_t": CFG.dataset.camera_t},
    log:
        f"{LOGS}/index/S{{subject}}.log",
    benchmark:
        f"{BENCH}/index/S{{subject}}.tsv"
    threads: 1
    resources:
        # Measured on release-size files (benchmarks/bench_h36m_scale.py): 12-17 s, peak RSS <= 1.07 GB.
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/index.py"


rule dataset_report:
    output:
        f"{RESULTS}/dataset/report.json",
    params:
        report=PLAN.report(),
    log:
        f"{LOGS}/dataset/report.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/dataset_report.py"

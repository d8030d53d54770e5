# synthesize: render the synthetic dataset in the exact Human3.6M layout (images/, depth/,
# annotations/) under dataset.root, then a contact-sheet preview. Only when dataset.source is
# synthetic; with real Human3.6M data the files already exist and no rule makes them.
# The output is the `.complete` marker, written last: its presence means the dataset is finished.

if CFG.dataset.source == "synthetic":

    rule synthesize:
        output:
            marker=f"{CFG.dataset.root}/.complete",
            preview=report(
                f"{RESULTS}/synthetic_preview.png",
                caption="../report/synthetic_preview.rst",
                category="0. Data",
                labels={"model": "-", "figure": "synthetic preview"},
            ),
        params:
            # What the images depend on (editing frame_step or the split never re-renders).
            synthetic=CFG.to_dict()["synthetic"],
            subjects=CFG.dataset.subjects,
            actions=CFG.dataset.actions,
            subactions=CFG.dataset.subactions,
            cameras=CFG.dataset.cameras,
        log:
            f"{LOGS}/synthesize/synthesize.log",
        benchmark:
            f"{BENCH}/synthesize/synthesize.tsv"
        threads: workflow.cores
        resources:
            mem_mb=lambda wildcards, attempt: 1000 + 500 * workflow.cores * attempt,
            runtime=lambda wildcards, attempt: 60 * attempt,
            gpu=0,
        conda:
            CONDA_ENV
        script:
            "../workflow/scripts/synthesize.py"

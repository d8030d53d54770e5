# Figures made for the Snakemake HTML report (`make report` -> results/report.html) and useful on their
# own: the table of every model's test figures, each model's training curves, the inference contact
# sheet. The evaluation tables and figures and the synthetic preview are marked with report() in
# their own rules. Cheap CPU jobs; all are targets of rule all.


rule models_table:
    input:
        metrics=[f"{RESULTS}/eval/{model}/metrics.json" for model in CFG.models],
    output:
        table=report(
            f"{RESULTS}/report/models.html",
            caption="../report/models_table.rst",
            category="1. Metrics",
            subcategory="all models",
            labels={"model": "all", "figure": "test figures of every model"},
        ),
    log:
        f"{LOGS}/report/models_table.log",
    benchmark:
        f"{BENCH}/report/models_table.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/models_table.py"


rule training_curves:
    input:
        history=f"{RESULTS}/models/{{model}}/history.json",
    output:
        curves=report(
            f"{RESULTS}/report/{{model}}/training_curves.png",
            caption="../report/training_curves.rst",
            category="4. Training curves",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "training curves"},
        ),
    wildcard_constraints:
        model="|".join(CFG.models),
    log:
        f"{LOGS}/report/training_curves_{{model}}.log",
    benchmark:
        f"{BENCH}/report/training_curves_{{model}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/training_curves.py"


rule contact_sheet:
    input:
        summary=f"{RESULTS}/infer/{{model}}/summary.json",
    output:
        sheet=report(
            f"{RESULTS}/report/{{model}}/infer_contact_sheet.png",
            caption="../report/contact_sheet.rst",
            category="5. Inference",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "inference contact sheet"},
        ),
    wildcard_constraints:
        model="|".join(CFG.models),
    log:
        f"{LOGS}/report/contact_sheet_{{model}}.log",
    benchmark:
        f"{BENCH}/report/contact_sheet_{{model}}.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        CONDA_ENV
    script:
        "../workflow/scripts/contact_sheet.py"

from snakemake.utils import min_version

min_version("9")


configfile: "config.yaml"


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/model.smk"
include: "rules/shap.smk"
include: "rules/gradcam.smk"
include: "rules/baselines.smk"
include: "rules/evaluate_common.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),

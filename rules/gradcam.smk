# Two rules write the same per-layer files results/{dataset}/{model}/gradcam/{layer}.h5 (same
# content): gradcam_layer, one job per layer, and gradcam_layers, every layer of a dataset in one
# job (one process, one model load, one CUDA start-up). gradcam.layers_per_job picks one of them
# through the rule order (GRADCAM_LAYERS_PER_JOB in common.smk; docs/hpc-slurm.md, "GPU start-up").
if GRADCAM_LAYERS_PER_JOB == "all":

    ruleorder: gradcam_layers > gradcam_layer

else:

    ruleorder: gradcam_layer > gradcam_layers


rule gradcam_layer:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
    output:
        "results/{dataset}/{model}/gradcam/{layer}.h5",
    log:
        "results/logs/gradcam_layer/{dataset}/{model}/{layer}.log",
    benchmark:
        "results/benchmarks/gradcam_layer/{dataset}/{model}/{layer}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        variant=config["gradcam"]["variant"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/gradcam_layer.py"


rule gradcam_layers:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
    output:
        expand("results/{{dataset}}/{{model}}/gradcam/{layer}.h5", layer=LAYERS),
    log:
        "results/logs/gradcam_layers/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/gradcam_layers/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        layers=LAYERS,
        variant=config["gradcam"]["variant"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/gradcam_layers.py"

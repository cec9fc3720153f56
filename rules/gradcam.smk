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

rule explain_baselines:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
    output:
        "results/{dataset}/{model}/baselines.h5",
    log:
        "results/logs/explain_baselines/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/explain_baselines/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/explain_baselines.py"

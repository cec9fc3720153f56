rule train_model:
    input:
        "results/{dataset}/features.h5",
    output:
        model="results/{dataset}/{model}/model.pt",
        metrics="results/{dataset}/{model}/metrics.h5",
    log:
        "results/logs/train_model/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}.tsv"
    wildcard_constraints:
        dataset=_alternatives(TRAINED),
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        model=get_model_params,
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/train_model.py"


rule load_model:
    input:
        features="results/{dataset}/features.h5",
        checkpoint=get_checkpoint,
    output:
        model="results/{dataset}/{model}/model.pt",
        metrics="results/{dataset}/{model}/metrics.h5",
    log:
        "results/logs/load_model/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/load_model/{dataset}/{model}.tsv"
    wildcard_constraints:
        dataset=_alternatives(LOADED),
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        model=get_model_params,
        seed=config["seed"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/load_model.py"

rule select_explain_set:
    input:
        features="results/{dataset}/features.h5",
        metrics="results/{dataset}/{model}/metrics.h5",
    output:
        "results/{dataset}/{model}/explain_set.h5",
    log:
        "results/logs/select_explain_set/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/select_explain_set/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        explain=config["explain"],
    script:
        "../workflow_scripts/select_explain_set.py"


rule select_background:
    input:
        "results/{dataset}/features.h5",
    output:
        "results/{dataset}/{model}/background.h5",
    log:
        "results/logs/select_background/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/select_background/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        size=config["shap"]["background_size"],
        chunk_size=config["shap"]["background_chunk_size"],
        seed=config["shap"]["background_seed"],
    script:
        "../workflow_scripts/select_background.py"


rule shap_chunk:
    input:
        model="results/{dataset}/{model}/model.pt",
        explain_set="results/{dataset}/{model}/explain_set.h5",
        background="results/{dataset}/{model}/background.h5",
    output:
        temp("results/{dataset}/{model}/shap/chunk_{chunk}_part_{part}.h5"),
    log:
        "results/logs/shap_chunk/{dataset}/{model}/{chunk}_{part}.log",
    benchmark:
        "results/benchmarks/shap_chunk/{dataset}/{model}/{chunk}_{part}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **MODEL_RESOURCES,
    params:
        backend=config["shap"]["backend"],
        batch_size=config["shap"]["batch_size"],
        completeness_tolerance=config["shap"]["completeness_tolerance"],
        parts=config["shap"]["sample_chunks"],
        device=config["compute"]["device"],
    script:
        "../workflow_scripts/shap_chunk.py"


rule merge_shap:
    input:
        explain_set="results/{dataset}/{model}/explain_set.h5",
        chunks=get_shap_chunks,
    output:
        "results/{dataset}/{model}/shap.h5",
    log:
        "results/logs/merge_shap/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/merge_shap/{dataset}/{model}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    script:
        "../workflow_scripts/merge_shap.py"

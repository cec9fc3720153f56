rule generate_synthetic:
    output:
        directory("{synth_path}"),
    log:
        "results/logs/generate_synthetic/{synth_path}.log",
    benchmark:
        "results/benchmarks/generate_synthetic/{synth_path}.tsv"
    wildcard_constraints:
        synth_path=_alternatives(p for p in SYNTHETIC_PATHS if not os.path.isabs(p)),
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        synthetic=get_synthetic_params,
        seed=config["seed"],
    script:
        "../workflow_scripts/generate_synthetic.py"


# A synthetic folder outside the working directory (an absolute path, or one with ../):
# its log and benchmark stay under results/ (results/logs/generate_synthetic_outside/<path>).
use rule generate_synthetic as generate_synthetic_outside with:
    output:
        directory(f"{os.sep}{{synth_path}}"),
    log:
        "results/logs/generate_synthetic_outside/{synth_path}.log",
    benchmark:
        "results/benchmarks/generate_synthetic_outside/{synth_path}.tsv"
    wildcard_constraints:
        synth_path=_alternatives(p[1:] for p in SYNTHETIC_PATHS if os.path.isabs(p)),
    params:
        synthetic=lambda w: get_synthetic_params(w, outside=True),
        seed=config["seed"],


rule ingest_dataset:
    input:
        get_raw_input,
    output:
        "results/{dataset}/sequences.h5",
    log:
        "results/logs/ingest_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/ingest_dataset/{dataset}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: model_resources("threads")
    resources:
        **LIGHT_RESOURCES,
    params:
        dataset=get_dataset_params,
        layout=get_layout,
    script:
        "../workflow_scripts/ingest_dataset.py"


rule preprocess_sequences:
    input:
        "results/{dataset}/sequences.h5",
    output:
        windows="results/{dataset}/windows.h5",
        rejected="results/{dataset}/rejected.csv",
    log:
        "results/logs/preprocess_sequences/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess_sequences/{dataset}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        preprocess=config["preprocess"],
        segment=lambda w: DATASETS[w.dataset]["segment"],
        on_bad_recording=lambda w: DATASETS[w.dataset]["on_bad_recording"],
    script:
        "../workflow_scripts/preprocess_sequences.py"


rule compute_features:
    input:
        "results/{dataset}/windows.h5",
    output:
        "results/{dataset}/features.h5",
    log:
        "results/logs/compute_features/{dataset}.log",
    benchmark:
        "results/benchmarks/compute_features/{dataset}.tsv"
    conda:
        "../envs/harxai.yaml"
    threads: 1
    resources:
        **LIGHT_RESOURCES,
    params:
        features=config["features"],
    script:
        "../workflow_scripts/compute_features.py"

import os
import re
from pathlib import Path

from snakemake.utils import validate

from harxai.config import (
    SYNTHETIC_KINDS,
    check_config,
    check_layers,
    check_model_layers,
    resolve_dataset,
    resolve_model,
)
from harxai.devices import gradcam_layers_per_job, job_gpus

validate(config, "schemas/config.schema.yaml")

DATASETS = {
    name: resolve_dataset(name, spec) for name, spec in config["datasets"].items()
}
MODELS = {
    name: resolve_model(config["model"], spec.get("model"))
    for name, spec in config["datasets"].items()
}
LAYERS = list(config["gradcam"]["layers"])
check_layers(LAYERS)
# one = one gradcam_layer job per layer, all = one gradcam_layers job per dataset
# (docs/hpc-slurm.md, section GPU start-up).
GRADCAM_LAYERS_PER_JOB = gradcam_layers_per_job(
    config["gradcam"]["layers_per_job"],
    config["compute"]["gpu"],
    config["compute"]["device"],
)
check_config(config, DATASETS)
# Layer names vs the models' module paths: builds each model once (imports torch), so only in
# the main process, not again in every job.
if workflow.is_main_process:
    check_model_layers(config, DATASETS, MODELS)
N_BACKGROUND_CHUNKS = -(
    -config["shap"]["background_size"] // config["shap"]["background_chunk_size"]
)
SYNTHETIC_PATHS = {
    d["path"]: name for name, d in DATASETS.items() if d["kind"] in SYNTHETIC_KINDS
}
TRAINED = [name for name, m in MODELS.items() if not m["checkpoint"]]
LOADED = [name for name, m in MODELS.items() if m["checkpoint"]]


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "$^"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    model=_alternatives({m["name"] for m in MODELS.values()}),
    layer=_alternatives(LAYERS),
    chunk=r"\d+",
    part=r"\d+",


def model_dir(dataset):
    return f"results/{dataset}/{MODELS[dataset]['name']}"


def all_targets():
    targets = []
    for ds in DATASETS:
        targets += [
            f"results/{ds}/features.h5",
            f"{model_dir(ds)}/metrics.h5",
            f"{model_dir(ds)}/shap.h5",
        ]
        targets += [f"{model_dir(ds)}/gradcam/{layer}.h5" for layer in LAYERS]
        targets += evaluation_targets(ds)
    targets += report_targets()
    return targets


def get_raw_input(wildcards):
    """Raw folder of a dataset (made by generate_synthetic for synthetic kinds) + side files."""
    d = DATASETS[wildcards.dataset]
    inputs = [d["path"]]
    for key in ("manifest", "ignore_list"):
        if d.get(key) and d["kind"] not in SYNTHETIC_KINDS:
            inputs.append(d[key])
    return inputs


def get_synthetic_params(wildcards, outside=False):
    name = SYNTHETIC_PATHS[(os.sep if outside else "") + wildcards.synth_path]
    d = DATASETS[name]
    return {"kind": d["kind"], "layout": d["layout"], **d["synthetic"]}


def get_dataset_params(wildcards):
    """Resolved dataset spec plus preprocess.max_seconds (readers refuse longer recordings)."""
    return {
        **DATASETS[wildcards.dataset],
        "max_seconds": config["preprocess"]["max_seconds"],
    }


def get_layout(wildcards):
    """Layout spec as a JSON-able dict, so a changed user layout reruns what it shapes."""
    name = DATASETS[wildcards.dataset]["layout"]
    return {"name": name, "user": config["layouts"].get(name)}


def get_model_params(wildcards):
    return MODELS[wildcards.dataset]


def get_checkpoint(wildcards):
    return MODELS[wildcards.dataset]["checkpoint"]


def get_shap_chunks(wildcards):
    return expand(
        "{d}/shap/chunk_{chunk}_part_{part}.h5",
        d=model_dir(wildcards.dataset),
        chunk=range(N_BACKGROUND_CHUNKS),
        part=range(config["shap"]["sample_chunks"]),
    )


def get_gradcam_files(wildcards):
    return expand(
        "{d}/gradcam/{layer}.h5", d=model_dir(wildcards.dataset), layer=LAYERS
    )


def model_resources(key):
    """Resources of the rules that run the model: threads, memory, run time and GPUs from config.

    GPUs: compute.gpu, but none with compute.device: cpu (harxai.devices.job_gpus).
    """
    if key == "gpu":
        return job_gpus(config["compute"]["gpu"], config["compute"]["device"])
    return config["compute"][key]


def gradcam_benchmark(dataset, layer):
    """Benchmark file of the job that computed one GradCAM layer of a dataset.

    In "all" mode every layer of a dataset shares the one benchmark of gradcam_layers.
    """
    w = {"dataset": dataset, "model": MODELS[dataset]["name"]}
    if GRADCAM_LAYERS_PER_JOB == "all":
        return expand(rules.gradcam_layers.benchmark, **w)[0]
    return expand(rules.gradcam_layer.benchmark, layer=layer, **w)[0]


# The one place of the rules' resources: rules that run the model take theirs from config
# (compute), every other rule is light (one thread; ingest_dataset takes compute.threads reader processes).
MODEL_RESOURCES = {key: model_resources(key) for key in ("mem_mb", "runtime", "gpu")}
LIGHT_RESOURCES = {"mem_mb": 2000, "runtime": 30, "gpu": 0}

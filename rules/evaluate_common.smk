"""Target lists, input functions and plans of the evaluation and report rules.

Included by the Snakefile before evaluate.smk and report.smk, so that those hold rules only
(snakemake --lint: no functions mixed with rules). Method names come from harxai.methods.
"""

from harxai.methods import methods_of
from harxai.evaluate.sources import SELECTIONS

EVALUATE = config["evaluate"]
PERTURBATION_METHODS = methods_of(EVALUATE["perturbation_layers"])
SYNTHETIC_DATASETS = [n for n, d in DATASETS.items() if d["kind"] in SYNTHETIC_KINDS]

for _key in ("perturbation_layers", "figure_layers"):
    _unknown = [x for x in EVALUATE[_key] if x not in LAYERS]
    if _unknown:
        raise ValueError(f"evaluate.{_key}: {_unknown} are not in gradcam.layers")
if EVALUATE["reference_layer"] not in LAYERS:
    raise ValueError(
        f"evaluate.reference_layer: {EVALUATE['reference_layer']!r} is not in gradcam.layers"
    )


def evaluation_targets(dataset):
    """Tables and figures of the evaluation stage for one dataset."""
    d = f"{model_dir(dataset)}/evaluate"
    targets = [
        f"{d}/rankings.csv",
        f"{d}/rankings.png",
        f"{d}/perturbation.png",
        f"{d}/perturbation_summary.csv",
        f"{d}/layer_correlation.csv",
        f"{d}/layer_correlation.md",
    ]
    if EVALUATE["skeleton_samples"] > 0:
        targets.append(f"{d}/skeletons.png")
    if dataset in SYNTHETIC_DATASETS:
        targets += [f"{d}/ground_truth.csv", f"{d}/ground_truth.md"]
    return targets


def get_figure_layer_files(wildcards):
    return expand(
        "{d}/gradcam/{layer}.h5",
        d=model_dir(wildcards.dataset),
        layer=EVALUATE["figure_layers"],
    )


def get_perturbation_curves(wildcards):
    return expand(
        "{d}/evaluate/perturbation/{method}_{selection}.h5",
        d=model_dir(wildcards.dataset),
        method=PERTURBATION_METHODS,
        selection=SELECTIONS,
    )


def get_dataset_dir(wildcards):
    return DATASETS[wildcards.dataset]["path"]


def get_perturbation_spec(wildcards):
    """Only the settings of the chosen mode, so changing the other mode's keys reruns nothing."""
    if EVALUATE["perturbation_mode"] == "isolate":
        return {"mode": "isolate"}
    return {
        "mode": "self_loop",
        "thresh": EVALUATE["thresh"],
        "zero_out": EVALUATE["zero_out"],
    }


def runtime_plan():
    """Per dataset: the GradCAM and SHAP files and the benchmark files of their jobs."""
    plan = {}
    for ds in DATASETS:
        model = MODELS[ds]["name"]
        w = {"dataset": ds, "model": model}
        plan[ds] = {
            "gradcam": {
                layer: {
                    "h5": f"{model_dir(ds)}/gradcam/{layer}.h5",
                    "benchmark": gradcam_benchmark(ds, layer),
                }
                for layer in LAYERS
            },
            "shap": {
                "h5": f"{model_dir(ds)}/shap.h5",
                "benchmark": expand(rules.merge_shap.benchmark, **w)[0],
            },
            "shap_chunks": {
                f"{c}_{p}": expand(rules.shap_chunk.benchmark, chunk=c, part=p, **w)[0]
                for c in range(N_BACKGROUND_CHUNKS)
                for p in range(config["shap"]["sample_chunks"])
            },
        }
    return plan


def get_runtime_inputs(wildcards):
    files = []
    for p in runtime_plan().values():
        files += [f for g in p["gradcam"].values() for f in (g["h5"], g["benchmark"])]
        files += [p["shap"]["h5"], p["shap"]["benchmark"], *p["shap_chunks"].values()]
    return files


def report_targets():
    """The self-contained HTML report and the runtime tables."""
    return ["results/report.html", "results/runtime.csv", "results/runtime.md"]


def report_plan():
    """Per dataset: the files the report shows (ground truth only for synthetic datasets)."""
    plan = {}
    for ds in DATASETS:
        d = f"{model_dir(ds)}/evaluate"
        files = {
            "metrics": f"{model_dir(ds)}/metrics.h5",
            "rankings_csv": f"{d}/rankings.csv",
            "rankings_png": f"{d}/rankings.png",
            "perturbation_png": f"{d}/perturbation.png",
            "perturbation_summary_csv": f"{d}/perturbation_summary.csv",
            "correlation_csv": f"{d}/layer_correlation.csv",
        }
        if EVALUATE["skeleton_samples"] > 0:
            files["skeletons_png"] = f"{d}/skeletons.png"
        if ds in SYNTHETIC_DATASETS:
            files["ground_truth_csv"] = f"{d}/ground_truth.csv"
        plan[ds] = files
    return plan


def get_report_inputs(wildcards):
    return [f for files in report_plan().values() for f in files.values()]

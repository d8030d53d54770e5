# Config validation, the typed config, and the names every rule shares.
# Rules never parse the config themselves: they use CFG (a pose3d.config.Config) and the helpers below.

import os
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir)))  # `pose3d` importable without installation too

from pose3d.config import ConfigError, config_from_dict, model_training_config
from pose3d.datasets.catalog import plan_for_config
from pose3d.datasets.frame_steps import frame_step_for_subject
from pose3d.datasets.layout import SequenceId, annotation_path
from pose3d.datasets.protocol import protocol_frames
from pose3d.preprocess_jobs import pack_sequences
from pose3d.shards.reader import redact_secrets
from pose3d.training.identity import weight_settings
from pose3d.validation import OutputConflictError, check_config_resources

try:  # pose3d's own check first: its message names the key and the allowed values in one line
    CFG = config_from_dict(config)
    # What every stage will need, checked before the first job starts. GPUs are checked by the
    # jobs themselves: this process may be a cluster's login node.
    check_config_resources(CFG, ["preprocess", "train", "infer", "storage"], devices=False)
    if CFG.dataset.source == "synthetic":
        from pose3d.datasets.synthetic import check_synthetic_root

        check_synthetic_root(CFG.dataset.root)  # never render over a real dataset
except (ConfigError, OutputConflictError) as error:
    raise WorkflowError(str(error)) from None
validate(config, schema="../config/schema.yaml", set_default=True)  # fills the defaults into `config`

RESULTS = "results"
LOGS = "results/logs"
BENCH = "results/benchmarks"
CONDA_ENV = "../envs/pose3d.yaml"


def check_storage_remote(storage, query):
    """One rclone listing of the remote before the DAG is built: a wrong remote name, a server that
    does not answer or refused credentials stop the run here with rclone's reason in one line."""
    import shutil

    from snakemake_storage_plugin_rclone.runner import RcloneRunner, check_remote

    binary = shutil.which("rclone")
    if binary is None:
        raise WorkflowError("config key 'storage.remote' is set but the rclone binary is not on PATH")
    runner = RcloneRunner(binary=binary, config=storage.rclone_config or None, attempts=max(1, storage.retries),
                          retries_sleep=1.0, low_level_retries=2)
    try:
        check_remote(runner, query)
    except WorkflowError as error:
        raise WorkflowError(
            f"config key 'storage.remote' ({redact_secrets(storage.remote)}) cannot be used: {error}"
        ) from None


def dataset_plan():
    """The sequences the DAG processes, known when the DAG is built, and the folders it leaves out.

    Synthetic: every configured combination (the generator writes all of them).
    Real Human3.6M: the annotated sequences whose image folder holds files (pose3d.datasets.catalog;
    the release ships folders the annotations leave out). The camera convention is checked here,
    so a wrong dataset.camera_t stops the run before any job.
    """
    try:
        return plan_for_config(CFG, cache_dir=f"{RESULTS}/index")
    except ValueError as error:  # DatasetError, CameraConventionError: one message naming file and fix
        raise WorkflowError(str(error)) from None


PLAN = dataset_plan()
SEQUENCES = PLAN.sequences
PROTOCOL_FRAMES = protocol_frames(CFG, PLAN)  # test frames the figures should cover (evaluate compares)


def subject_of(sequence):
    return SequenceId.parse(sequence).subject


def sequences_of_subject(subject):
    return [name for name in SEQUENCES if SequenceId.parse(name).subject == int(subject)]


def shard_names(count):
    """Shard file names shard_00000.h5 ... for a count fixed by the config."""
    return [f"shard_{i:05d}.h5" for i in range(count)]


if CFG.storage.remote:
    from snakemake_storage_plugin_rclone.query import parse_query, remote_in_environment

    # An inline remote's parameters (credentials among them) travel as RCLONE_CONFIG_* environment
    # variables of this process and its jobs: Snakemake's queries, printed and stored in
    # .snakemake/metadata, name the remote without them. Jobs read the real remote from the config.
    STORAGE_REMOTE, _remote_env = remote_in_environment(parse_query(CFG.storage.remote))
    os.environ.update(_remote_env)
    check_storage_remote(CFG.storage, STORAGE_REMOTE)

    # snakemake-storage-plugin-rclone (plugins/): data-stage files live on this rclone remote.
    # Other settings come from the CLI: --storage-rclone-<setting>, e.g. --storage-rclone-flags="--tpslimit 10".
    storage rclone:
        provider="rclone",
        config=CFG.storage.rclone_config or None,
        retries=CFG.storage.retries,


def remote_or_local(path):
    """Declare a data-stage file on the configured rclone remote, or locally when none is set."""
    if CFG.storage.remote:
        return storage.rclone(remote_query(path))
    return path


TRAIN_SHARDS = [f"{RESULTS}/shuffled/train/{name}" for name in shard_names(CFG.split.train_shards)]
VAL_SHARDS = [f"{RESULTS}/split/val/{name}" for name in shard_names(CFG.split.val_shards)]  # model selection
TEST_SHARDS = [f"{RESULTS}/split/test/{name}" for name in shard_names(CFG.split.test_shards)]  # evaluate, infer only


def shard_inputs(paths):
    """Shards a training/evaluation job depends on. On a remote they are not downloaded by
    Snakemake (retrieve=False): the job copies them once into storage.cache_dir, reused across runs."""
    if CFG.storage.remote:
        return [storage.rclone(remote_query(path), retrieve=False) for path in paths]
    return list(paths)


def remote_query(path):
    """The Snakemake storage query of a data-stage file (credential-free, see STORAGE_REMOTE)."""
    return str(STORAGE_REMOTE.with_path(f"{STORAGE_REMOTE.path.rstrip('/')}/{path}"))


def dataset_marker():
    """The file that proves the dataset exists: written last by synthesize, or the real data's annotations."""
    if CFG.dataset.source == "synthetic":
        return f"{CFG.dataset.root}/.complete"
    return []


def annotation_files(subject):
    """What the subject's index is built from: its three JSONs (real data) or the synthetic marker."""
    if CFG.dataset.source == "synthetic":
        return [f"{CFG.dataset.root}/.complete"]
    return [str(annotation_path(CFG.dataset.root, int(subject), kind)) for kind in ("data", "camera", "joint_3d")]


def all_targets():
    targets = [f"{RESULTS}/dataset/report.json"]
    for model in CFG.models:
        targets += [
            f"{RESULTS}/models/{model}/best.pt",
            f"{RESULTS}/eval/{model}/metrics.json",
            f"{RESULTS}/report/{model}/training_curves.png",
        ]
    targets.append(f"{RESULTS}/report/models.html")
    if CFG.infer.enabled:
        targets.append(f"{RESULTS}/infer/{CFG.infer.model}/summary.json")
        targets.append(f"{RESULTS}/report/{CFG.infer.model}/infer_contact_sheet.png")
    return targets


# Helpers of single rules, kept here so that rules/*.smk hold rules only.


def preprocess_wants_gpu():
    return 1 if preprocess_uses_models() and CFG.perception.device != "cpu" else 0


def preprocess_uses_models():
    return CFG.perception.keypoints.backend == "yolo" or CFG.perception.depth.backend == "depthpro"


def preprocess_mem_mb(wildcards, attempt):
    """Host memory of a preprocess job, doubled per retry. Measured: a job reading its sequence from
    the index starts at 84 MB (benchmarks/bench_h36m_scale.py); YOLO11x-pose + DepthPro load as ~4 GB
    of fp32 weights, and the full-size benchmark process (which also builds the random models) peaked
    at 9.0 GB on a CPU (bench_preprocess.py --full-size)."""
    return (16000 if preprocess_uses_models() else 1000) * attempt


def perception_params():
    """The perception settings a preprocess job's output depends on (not how jobs are cut, nor a
    second look that the configured backend never takes: finished outputs are not redone for it)."""
    from pose3d.perception.second_look import takes_second_look

    params = {key: value for key, value in CFG.to_dict()["perception"].items() if key != "frames_per_job"}
    if not takes_second_look(CFG.perception.keypoints):
        params["keypoints"] = {key: value for key, value in params["keypoints"].items() if key != "second_look"}
    return params


def packed_runtime(frames):
    """Minutes for a packed job: loading plus ~0.2 s per frame on a GPU, doubled per retry."""
    return lambda wildcards, attempt: (15 + frames // 300) * attempt


def share_profile_settings(rule_name):
    """A profile's set-resources / set-threads for `preprocess` (e.g. the GPU partition of
    profiles/slurm-gpu) also apply to each packed rule. Snakemake matches them by rule name
    and has no public hook for a family of rules, hence its parsed settings are extended."""
    settings = workflow.resource_settings
    for parsed in (settings._parsed_overwrite_resources, settings._parsed_overwrite_threads):
        if "preprocess" in parsed:
            parsed.setdefault(rule_name, parsed["preprocess"])


def split_chunks():
    subjects = sorted(set(CFG.split.train_subjects) | set(CFG.split.test_subjects))
    return [remote_or_local(f"{RESULTS}/chunks/S{subject}.h5") for subject in subjects]


def base_model_input(model):
    """The base's best.pt when `model.<model>.base_model` names a lifter (that model corrects it), else none."""
    base = getattr(getattr(CFG.model, model), "base_model", "none")
    return [] if base == "none" else [f"{RESULTS}/models/{base}/best.pt"]


def train_wants_gpu(model):
    """GPUs to request for `model`: its train.gpus (model.<model>.train overrides first) unless the
    config pins training to the CPU."""
    train = model_training_config(CFG, model).train
    return train.gpus if train.device != "cpu" else 0


def infer_wants_gpu():
    uses_model = CFG.infer.keypoints_backend == "yolo" or CFG.infer.depth_backend == "depthpro"
    return 1 if uses_model and CFG.perception.device != "cpu" else 0

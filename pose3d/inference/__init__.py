"""Inference: images (a file, a folder or a list) -> every person's 3D joints in camera space (mm).

`run` drives it (perception, cropping as for training, batched model calls), `inputs` says
which images are read and what a dataset knows about them, `outputs` documents the files
written with their JSON Schemas, `panels` draws one image's result.
"""

from pose3d.inference.inputs import default_inference_images, list_inputs, output_names
from pose3d.inference.outputs import (
    IMAGE_RESULT_SCHEMA,
    OUTPUT_SCHEMA_VERSION,
    SUMMARY_SCHEMA,
    validate_result,
)
from pose3d.inference.run import InferenceOptions, options_from_config, run_inference

__all__ = [
    "IMAGE_RESULT_SCHEMA",
    "OUTPUT_SCHEMA_VERSION",
    "SUMMARY_SCHEMA",
    "InferenceOptions",
    "default_inference_images",
    "list_inputs",
    "options_from_config",
    "run_inference",
    "output_names",
    "validate_result",
]

"""Training beside the pipeline: data sources, clip table and sampler, trainer state, trainer, calibration."""

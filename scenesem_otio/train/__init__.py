"""Training beside the pipeline: data sources, clip table, sampler, state, trainer, calibration."""

"""Media stage: video file -> facts, frames, shots and clips (PyAV, PySceneDetect; no torch)."""

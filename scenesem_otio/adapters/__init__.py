"""Timeline stage: scenes -> OTIO timelines and NLE files; also the OTIO adapter plugin.

This package is the `opentimelineio.plugins` entry point, so it must stay light: no torch.
"""

"""Timeline stage: scenes <-> OTIO timelines <-> NLE files (a registry of formats).

Format code only: the OTIO plugin entry points live in `frontends`. No torch.
"""

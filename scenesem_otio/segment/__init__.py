"""Segment stage: boundary scores -> a decision (θ, or exactly N scenes) -> scenes and distances.

`decide` holds the rules `cut` applies; `calibrate` chooses their settings on labelled films.
Numpy only.
"""

"""Foundation every stage shares: errors, options, value types, atomic file output, progress.

Nothing here imports a later stage, torch, or a media library.
"""

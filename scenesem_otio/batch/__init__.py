"""`scenesem batch`: cut thousands of films on one machine or a Ray cluster, resumably.

The data flow, one module per stage: `plan` (inputs -> films and their output names) ->
`ledger` (which films are already cut, from the same file with the same options) -> `engines`
(local worker processes or Ray actors, each holding the model once) -> `job` (the per-film work:
`pipeline.cut` and the timeline writers, the same in every engine) -> `index` (index.html).
`run.run_batch` strings them together. Nothing is re-exported here, so that importing one
stage never runs the others.
"""

"""Model stage: clips -> embeddings (VideoMAE backbone + MLP head), and how it is trained."""

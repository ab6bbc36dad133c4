"""Evaluation: scenes against truth (`metrics`) and methods side by side (`compare`)."""

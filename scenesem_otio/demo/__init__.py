"""The demo: synthetic films with known scenes (`synth`) and the end-to-end run (`run`)."""

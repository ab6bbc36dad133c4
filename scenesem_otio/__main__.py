"""`python -m scenesem_otio` runs the CLI."""

from scenesem_otio.cli import main

main()

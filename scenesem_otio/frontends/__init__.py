"""Front ends that are not the CLI: the OTIO adapter plugins (this package is the
`opentimelineio.plugins` entry point, so it stays light: no torch) and the Blender add-on.
"""

"""Front ends: scenesem inside other programs (OTIO plugins, the Blender add-on)."""

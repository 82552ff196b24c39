"""Plugins and their runner (`python3 -m vortex.plugins.runner`)."""

"""The module shape of the reference Vortex package, as far as the NSN sidecar calls it.

Only `vortex.plugins.runner` exists here: enough to run this project's own Python plugin through the
same command line a node uses for a real Vortex checkout (docs/sidecar.md).
"""

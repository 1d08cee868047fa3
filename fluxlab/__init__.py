"""fluxlab: a Jupyter-native HPC workload manager modelled on the Flux Framework."""

from fluxlab._version import __version__

__all__ = ["__version__"]

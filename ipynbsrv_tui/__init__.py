"""ipynbsrv-tui: a multi-user Jupyter notebook server on Docker, administered from the terminal."""

__version__ = "0.1.0"

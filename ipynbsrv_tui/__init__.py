"""ipynbsrv-tui: a multi-user Jupyter notebook server on Docker, administered from the terminal."""

import logging

__version__ = "0.1.0"

# Our loggers stay silent unless a program configures logging (the broker does): an embedded
# TUI or a CLI call must not print log lines over the screen or into a script's output.
logging.getLogger("ipynbsrv").addHandler(logging.NullHandler())

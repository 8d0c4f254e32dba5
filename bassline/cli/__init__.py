"""The ``bassline`` command-line interface."""

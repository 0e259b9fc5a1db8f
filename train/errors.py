"""The pipeline's one error type: library functions raise it; only each stage's main() turns it
into one line on stderr and exit status 2."""


class TrainError(Exception):
    """Bad input or state for a training stage (a flag, a data folder, a run folder)."""

"""User-facing errors of the contest workflow.

Library functions raise `ContestError` with a one-line message that names the file and the problem;
the CLI turns it into click's error output with exit status 2 (no traceback). Keeping click out of
the library modules lets them be used from Python as well.
"""
import numbers


class ContestError(Exception):
    """A problem with the user's input or files: one line, exit status 2 on the command line."""


class ContestInputError(ContestError, ValueError):
    """An input (a file, a request body, an array) that cannot be used. A ValueError too, so
    code written for scikit-learn (`except ValueError`) catches it."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def check_seed(seed, option="--seed"):
    """`seed` if it is an integer >= 0 (what numpy's SeedSequence takes), else ContestError
    naming the option; the one seed check below the command line (click checks the option)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ContestError(f"{option}: must be an integer >= 0 (received: {seed!r})")
    return int(seed)


class ContestInputTooLarge(ContestInputError):
    """An input over a size limit (bytes, images, picture pixels): 413 from the service."""

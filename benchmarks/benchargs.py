"""The command line of every benchmark script, like the contest commands': `--help` shows the
script's whole docstring (what it measures, how, an example) and help for every option, and a bad
option or input ends in one line, `Error: ...`, with exit status 2 and no traceback."""
import argparse
import sys


class Parser(argparse.ArgumentParser):
    """argparse with the module docstring `doc` as description and one-line errors."""

    def __init__(self, doc, **kwargs):
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                         **kwargs)

    def error(self, message):
        self.exit(2, f"Error: {message}\n")


def run_main(main):
    """Call main(); a refused input (contest's one-line errors, a missing file) ends in one line."""
    from contest.errors import ContestError

    try:
        main()
    except (ContestError, OSError, ValueError) as exc:   # ValueError: nnlib names the bad file
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)

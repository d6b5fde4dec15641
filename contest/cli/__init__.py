"""The `contest` command line.

    commands     the click commands: parse options, call one run_* function, print its text
    run          what the short commands do (predict, predict-one, evaluate, score, export), as
                 plain functions that check every input before writing and return the text
    long_runs    what the long, resumable ones do (train-ensemble, adapt), the same way
    compare      the `contest compare` command (registered on the group in commands)
    errors       one-line errors for click's own refusals; how an interrupted command ends
                 (interruptible)
    outputs      the one output-path rule of every command that writes, and writing all or none
    display      terminal text: image art, probability bars, histograms, tables
    training_text  the closing report of train-ensemble
    blas_check   the note about OpenBLAS kernels weaker than the CPU

`main` (the click group, the `contest` console script) is imported from contest.cli.commands on
first use, so a module that only needs, say, `display` does not load click and every command.
"""


def __getattr__(name):
    if name == "main":
        from contest.cli.commands import main
        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

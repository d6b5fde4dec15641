"""How well an ensemble does, and pictures of it.

    variants     harder variants of a test set (shift, rotate, noise, ...) and the accuracy table
    robustness   `evaluate --robustness`: members and ensemble scored on every variant
    overlap      the members' pairwise error overlap: how many of member A's mistakes B makes too
    tta          test-time augmentation: probabilities averaged over small shifts
    plots        PNG reports: learning curves, confusion matrix and mistakes, one prediction
    comparison   `contest compare`'s report: table, CSV, Markdown and overlaid curves
    views        the views `evaluate --view NAME` adds, by name; per_class is one
"""

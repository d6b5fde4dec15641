"""A model directory (train-ensemble --out, --models): what it holds and how it is read.

    files      every file name of a model directory
    manifest   strict reading of ensemble.json and cross-checks of the members against it
    ensemble   loading and verifying every member; the average of their softmax outputs
    guard      one training run at a time (the lock), no links followed, leftovers cleaned up
"""

"""The two checks that keep adaptation from doing harm, both measured, neither reading a label of
the contest images.

Task check (before anything), two ratios of the source ensemble's view of the contest images to
its view of the validation split: how often all members agree, and how spread its predictions are
over the classes (the effective number of classes, exp of the entropy of the predicted-class
histogram). Digits in another style keep most of both (restyled MNIST, small 2-member ensemble:
agreement 0.77-0.94 of validation's; one class missing: spread ~0.9); pictures of something else
lose one or the other (uniform noise: agreement 0.06 for one ensemble; for another, 0.96 of the
agreement but every image called "2", spread ~0.1). Below `min_agreement` or `min_spread` the
images are not taken for the task's and the ensemble is left as it was: AdaBN would otherwise fit
the BatchNorm statistics to them and self-training would teach the members labels of noise. A
contest set of a few classes only needs a lower --min-spread.

Weight check (after each self-training round): validation accuracy of the round's members with
their BatchNorm statistics re-estimated on the validation images themselves, against the source
members measured the same way. Re-estimating on validation takes the domain out of the figure
(a member adapted to thick strokes is not judged by statistics of thin ones), so what is left is
whether the weights still classify the training task; a round that costs more than
`max_val_drop` points is undone.
"""
import nnlib as nn
import numpy as np

from contest.adapt.bn import adapt_models_bn
from contest.modeldir.ensemble import accuracy, average, models_probabilities


def class_spread(labels):
    """Effective number of classes among `labels`: exp of the entropy of their histogram."""
    p = np.bincount(np.asarray(labels, dtype=np.int64)) / max(1, len(labels))
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def task_check(contest_votes, validation_votes, min_agreement, min_spread):
    """The agreement and class-spread ratios of contest to validation images, and whether both
    reach their minimum ("passed")."""
    agreement = contest_votes.agreement / max(validation_votes.agreement, 1e-12)
    spread = class_spread(contest_votes.labels) / class_spread(validation_votes.labels)
    return {"contest_agreement": contest_votes.agreement,
            "validation_agreement": validation_votes.agreement, "ratio": agreement,
            "min_ratio": min_agreement, "spread_ratio": spread, "min_spread": min_spread,
            "passed": bool(agreement >= min_agreement and spread >= min_spread)}


def weights_accuracy(paths, x_val, y_val, classes, batch_size=1000):
    """Validation accuracy of the members in `paths` with BatchNorm statistics re-estimated on
    the validation images x_val (model-ready)."""
    models = [nn.load(path) for path in paths]
    adapt_models_bn(models, x_val)
    return accuracy(average(models_probabilities(models, x_val, classes, batch_size)), y_val)[0]

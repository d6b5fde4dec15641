"""Adapting an ensemble to the unlabelled images it is asked to predict.

`adapt_bn(ensemble, images)` re-estimates every member's BatchNorm statistics on the images
(AdaBN, in seconds, no training); `adapt_ensemble(AdaptSettings(...))` writes an adapted ensemble:
AdaBN, then rounds of self-training on the images the ensemble labels with full agreement and
high confidence. Modules, each using only those above it:

    bn          AdaBN
    pseudo      pseudo-labels and the confidence threshold chosen on validation
    guards      the task check (are these the task's images?) and the weight check of a round
    state       settings, the resumable state, the warning on other images
    selftrain   one member's self-training round
    rounds      the members of a round in parallel
    report      the text printed per stage
    run         adapt_ensemble
    command     what `contest predict --adapt bn` and `contest adapt` call
"""
from contest.adapt.bn import adapt_bn
from contest.adapt.state import AdaptSettings

__all__ = ["adapt_bn", "adapt_ensemble", "AdaptSettings"]


def adapt_ensemble(settings, say=print, monitor_mode="lines"):
    """contest.adapt.run.adapt_ensemble, imported on first use: `predict --adapt bn` imports this
    package and needs neither joblib nor the training pipeline."""
    from contest.adapt.run import adapt_ensemble as adapt

    return adapt(settings, say, monitor_mode)

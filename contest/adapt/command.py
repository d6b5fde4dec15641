"""What `contest adapt` and `contest predict --adapt` do, as functions returning text."""
import time

from contest.adapt.bn import adapt_bn, estimation_sample
from contest.adapt.state import warn_other_images


def prepare_for(ensemble, images, images_path, adapt=None, stream=None):
    """Before predicting `images`: warn (stderr) if the ensemble was adapted to other images,
    and with adapt="bn" re-estimate its BatchNorm statistics on them; the text to append."""
    warn_other_images(ensemble.manifest, images_path, stream)
    if adapt in (None, "none"):
        return ""
    if len(images) < 2:
        return "\nadapt bn: skipped (needs at least 2 images)"
    started = time.time()
    layers = adapt_bn(ensemble, images)
    if layers == 0:
        return "\nadapt bn: the members have no BatchNorm layer; nothing adapted"
    used = len(estimation_sample(len(images)))
    which = f"the {used} images" if used == len(images) else f"{used} of the {len(images)} images"
    return (f"\nadapt bn: {layers} BatchNorm layers re-estimated on {which} "
            f"({time.time() - started:.1f} s)")


def adapt_and_report(settings, quiet=False):
    """Adapt, printing each stage as it ends (stderr unless quiet); the closing summary."""
    import sys

    from contest.adapt.report import adapt_text
    from contest.adapt.run import adapt_ensemble
    from contest.train.progress import choose_mode, printer

    started = time.time()
    mode = choose_mode(quiet)
    manifest = adapt_ensemble(settings, say=printer(mode, sys.stderr), monitor_mode=mode)
    # each stage was said as it ended, unless quiet: then the summary lists them
    return adapt_text(manifest, settings.out_dir, time.time() - started, with_stages=quiet)

"""What the long, resumable commands do: train-ensemble (and its --more-epochs) and adapt.

Like contest.cli.run's functions, each takes the command's options and returns the text to print.
An interruption (Ctrl-C, SIGTERM) ends the command with one line saying that what was finished
is kept and that rerunning the same command resumes (contest.cli.errors.interruptible).
"""
import time

from contest.cli.errors import interruptible


def train_settings(preset, epochs, arch, augment, class_names, init_from, recipe=None,
                   **options):
    """contest.train.plan.TrainSettings of the train-ensemble options: the named preset (default:
    "default", "finetune" with --init-from) with --epochs/--arch/--augment and the recipe options
    (`recipe`: Preset fields, contest.train.options.recipe_changes) over it."""
    from contest.data.spec import parse_class_names
    from contest.train.plan import TrainSettings, overridden, with_overrides
    from contest.train.presets import PRESETS

    preset = preset or ("finetune" if init_from else "default")
    given = dict(epochs=epochs, arch=arch, augment=augment, **(recipe or {}))
    chosen = with_overrides(PRESETS[preset], **given)
    return TrainSettings(preset=chosen, normalisation=chosen.normalisation,
                         class_names=parse_class_names(class_names), init_from=init_from,
                         adapt=True, fixed=overridden(**given), **options)


def run_train(more_epochs=None, quiet=False, **options):
    """train-ensemble: train (or with `more_epochs`, continue) the ensemble in options["out_dir"];
    the closing report."""
    from contest.cli.training_text import training_text
    from contest.train.progress import choose_mode

    started, out_dir, mode = time.time(), options["out_dir"], choose_mode(quiet)
    if more_epochs is not None:
        from contest.train.more_epochs import continue_ensemble

        with interruptible(f"interrupted: continued members and per-epoch checkpoints are kept "
                           f"in {out_dir}; rerun the same command to finish"):
            manifest = continue_ensemble(out_dir, more_epochs, options["jobs"],
                                         options["backend"], mode)
        return training_text(manifest, out_dir, time.time() - started)
    from contest.cli.blas_check import weak_kernel_note
    from contest.train.continue_member import finetune_settings
    from contest.train.run import train_ensemble

    settings = train_settings(**options)
    with interruptible(f"interrupted: finished members and per-epoch checkpoints are kept in "
                       f"{out_dir}; rerun the same command to resume"):
        manifest = train_ensemble(finetune_settings(settings), monitor_mode=mode)
    note = weak_kernel_note()
    return training_text(manifest, out_dir, time.time() - started) + ("\n" + note if note else "")


def run_adapt(quiet=False, **options):
    """adapt: the adapted ensemble in options["out_dir"]; its closing summary."""
    from contest.adapt.command import adapt_and_report
    from contest.adapt.state import AdaptSettings

    settings = AdaptSettings(**options)
    with interruptible(f"interrupted: finished stages are kept in {settings.out_dir}; rerun the "
                       f"same command to resume"):
        return adapt_and_report(settings, quiet)

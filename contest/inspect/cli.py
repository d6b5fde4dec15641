"""`contest inspect`: a group of three views, registered on the main command by contest.cli.

    contest inspect image [--index N | --image FILE] --out DIR   one image, layer by layer
    contest inspect set [--images F --labels F] --out DIR        a labelled set (default: test)
    contest inspect labels --out DIR                             training labels to check
"""
import click

from contest.cli.errors import OneLineGroup

SETTINGS = {"show_default": True, "help_option_names": ["-h", "--help"], "max_content_width": 100}

models_option = click.option("--models", default="models", type=click.Path(),
                             help="model directory written by train-ensemble")
data_dir_option = click.option("--data-dir", type=click.Path(), envvar="CONTEST_DATA_DIR",
                               show_envvar=True, default=None,
                               help="directory of IDX files (default: the data the ensemble was "
                                    "trained on, or the bundled MNIST)")
out_option = click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
                          help="directory for the PNG, JSON and CSV files")
cache_option = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                            envvar="CONTEST_CACHE_DIR", show_envvar=True,
                            help="where the training images' features are kept between runs "
                                 "[default: ~/.cache/contest]")


@click.group("inspect", cls=OneLineGroup, context_settings=SETTINGS)
def inspect_group():
    """Look inside the ensemble: what each network sees in one image and why it answers what it
    answers (image), where it errs and how sure it is on a labelled set (set), and which
    training labels it contradicts (labels)."""


@inspect_group.command("image")
@click.option("--index", type=click.IntRange(min=0), default=0,
              help="image number in the test set (or in --image)")
@click.option("--image", type=click.Path(), default=None,
              help="an images file instead of the test set (any form predict reads)")
@click.option("--neighbours", "k", type=click.IntRange(0, 64), default=8,
              help="nearest training images to show (0: none, no training features needed)")
@models_option
@data_dir_option
@out_option
@cache_option
def image(index, image, k, models, data_dir, out_dir, cache_dir):
    """One image: the input as the networks see it, feature maps layer by layer, first-layer
    filters, saliency and occlusion maps per member, probabilities, nearest training images."""
    from contest.inspect.commands import run_inspect_image

    click.echo(run_inspect_image(models, out_dir, index, image, data_dir, k, cache_dir))


@inspect_group.command("set")
@click.option("--images", type=click.Path(), default=None,
              help="images to look at (with --labels) [default: the test set]")
@click.option("--labels", type=click.Path(), default=None, help="labels .npy for --images")
@models_option
@data_dir_option
@out_option
def set_command(images, labels, models, data_dir, out_dir):
    """A labelled set: the most confident mistakes with every member's vote, the costliest
    confusions, calibration (reliability and ECE) of the ensemble and of each member, member
    agreement against accuracy, and a PCA map of the penultimate features."""
    from contest.inspect.commands_set import run_inspect_set

    click.echo(run_inspect_set(models, out_dir, images, labels, data_dir))


@inspect_group.command("labels")
@click.option("--top", type=click.IntRange(1, 400), default=48, help="images in the gallery")
@click.option("--max-label-proba", type=click.FloatRange(0, 1), default=0.1,
              help="list a training image when the ensemble predicts another class and gives "
                   "its label at most this probability")
@models_option
@data_dir_option
@out_option
@cache_option
def labels(top, max_label_proba, models, data_dir, out_dir, cache_dir):
    """Training images whose label the ensemble contradicts, the least probable label first:
    likely label errors, as a gallery and a CSV of indices."""
    from contest.inspect.commands_set import run_inspect_labels

    click.echo(run_inspect_labels(models, out_dir, data_dir, top, max_label_proba, cache_dir))

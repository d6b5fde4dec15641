"""The `contest` command line: thin click commands over contest.cli.run and
contest.cli.long_runs.

Heavy modules (nnlib, joblib, matplotlib) are imported inside the commands that need them, so
`contest predict-one` and `contest --help` start fast. Every refused input is reported as one line
`Error: FILE: problem` with exit status 2 and no traceback.
"""
import click

from contest import __version__
from contest.cli.compare import compare
from contest.cli.errors import ContestUsageError, OneLineGroup
from contest.cli.options import VariantsOption, data_dir_option, source_data_dir_option
from contest.errors import ContestError
from contest.evaluate.views import VIEWS
from contest.inspect.cli import inspect_group
from contest.serve.options import serve_options, settings_of
from contest.train.options import recipe_changes, recipe_options
from contest.train.presets import PRESETS

BACKENDS = ["loky", "multiprocessing", "threading", "sequential"]  # joblib's built-in backends
SETTINGS = {"show_default": True, "help_option_names": ["-h", "--help"], "max_content_width": 100}
# the default preset's augmentation in words, read from the preset so the help cannot go stale
AUGMENT_WORDS = {"elastic_alpha": "elastic distortion", "pixel": "pixel corruptions",
                 "style": "handwriting styles"}
AUGMENT_HELP = ("augmentation: 'none', 'default' (the default preset's: " + ", ".join(
    AUGMENT_WORDS.get(key, key) for key in PRESETS["default"].augment if not key.startswith("p_"))
    + ") or a JSON object of augment.Augmenter arguments, e.g. "
    "'{\"rotation\": 8, \"shift\": 2}'; omitted: the preset's own")


class ContestGroup(OneLineGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ContestError as exc:
            raise ContestUsageError(str(exc)) from None


class ArchSpec(click.ParamType):
    """An architecture name, or names joined by '+' that the members take in turn; the names
    are looked up on first use (--help of other commands does not import nnlib)."""
    name = "arch"

    def get_metavar(self, param, ctx=None):
        from contest.train.architectures import ARCHITECTURES

        return "[" + "|".join(sorted(ARCHITECTURES)) + "|mlp:WxW...][+...]"

    def convert(self, value, param, ctx):
        from contest.train.architectures import member_arch

        try:
            member_arch(value, 0)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


def parse_augment(ctx, param, value):
    """None (keep the preset's), {} for 'none', the default preset's for 'default', or JSON."""
    if value is None:
        return None
    if value.strip().lower() == "none":
        return {}
    if value.strip().lower() == "default":
        return dict(PRESETS["default"].augment)
    from nnlib.serialization import loads_limited

    try:
        kwargs = loads_limited(value, max_depth=4)   # {"pixel": {...}} is 2 deep
    except ValueError:
        raise click.BadParameter(f"not 'none', 'default' or a JSON object "
                                 f"(up to 4 levels deep): {value[:60]!r}") from None
    if not isinstance(kwargs, dict):
        raise click.BadParameter(f"expected a JSON object of Augmenter arguments, got {value!r}")
    try:
        from contest.train.member import build_augmenter

        build_augmenter(kwargs)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    return kwargs


models_option = click.option("--models", "models", default="models", type=click.Path(),
                             help="model directory written by train-ensemble")
batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=1000,
                            help="images per inference batch")
tta_option = click.option("--tta", is_flag=True,
                          help="test-time augmentation: average the probabilities over the image "
                               "and its 4 one-pixel shifts (5x slower; off unless validation "
                               "shows it helps, see benchmarks/accuracy.py)")


@click.group(cls=ContestGroup, context_settings=SETTINGS)
@click.version_option(version=__version__)
def main():
    """Train ensembles of NumPy CNNs on MNIST or your own labelled images, predict and serve
    them, and write contest submissions.

    Quick start: `contest train-ensemble --n 5` then `contest evaluate`.
    """


@main.command("train-ensemble")
@click.option("--n", "n", type=click.IntRange(min=1), default=5, help="number of members")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="training recipe (" + "; ".join(
                  f"{p.name}: arch " + ("of the --init-from ensemble" if p.name == "finetune"
                                        else p.arch) + f", {p.epochs} epochs"
                  for p in PRESETS.values())
              + "); --epochs/--arch/--augment override it [default: default, finetune with "
                "--init-from]")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="[default: the preset's]")
@click.option("--arch", type=ArchSpec(), default=None,
              help="architecture (contest/train/architectures.py), a fully connected network "
                   "mlp:100x100 (hidden widths), or several joined by '+' that the members "
                   "take in turn (e.g. d+c) [default: the preset's]")
@click.option("--augment", callback=parse_augment, default=None, metavar="none|default|JSON",
              help=AUGMENT_HELP)
@click.option("--seed", type=click.IntRange(min=0), default=0,
              help="members use SeedSequence(seed).spawn(n)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="models",
              help="model directory (rerun the same command to resume)")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="parallel workers [default: one per core, or a few more so that no "
                   "core idles in the last round: 3 for 5 members on 2 cores]")
@click.option("--backend", type=click.Choice(BACKENDS), default="loky", help="joblib backend")
@click.option("--scheduler", metavar="ADDRESS|local", default=None,
              help="train the members as tasks on the Dask cluster at ADDRESS (e.g. "
                   "tcp://host:8786), or on a LocalCluster of this machine's cores for 'local'; "
                   "ignores --jobs and --backend; needs the dask extra (pip install "
                   "\".[dask]\" in a checkout)")
@click.option("--train-limit", type=click.IntRange(min=20), default=None,
              help="use only the first N training images (quick runs)")
@source_data_dir_option
@click.option("--data", type=click.Path(), default=None,
              help="labelled training data: a directory of IDX files, a Kaggle CSV (label column "
                   "and pixel0..), an .npz (x/y or images/labels), images.npy (+ labels.npy), a "
                   "folder of images with one sub-folder per class, or CIFAR-10 binary or "
                   "python (cifar-10-batches-py) batches [default: --data-dir, else the bundled "
                   "MNIST]")
@click.option("--test", "test_path", type=click.Path(), default=None,
              help="labelled test set, in the same forms [default: the data's own test split "
                   "if it has one (IDX t10k files, CIFAR-10 test_batch[.bin]), else none]")
@click.option("--label-column", default="label", help="label column of CSV data")
@click.option("--class-names", default=None, metavar="A,B,...|FILE.txt|NAME",
              help="class names: comma-separated, a .txt file (one per line) or fashion-mnist / "
                   "cifar-10 [default: the data's own (folder names, batches.meta.txt), else "
                   "the class numbers]")
@click.option("--more-epochs", type=click.IntRange(min=1), default=None, metavar="K",
              help="train every member of the finished ensemble in --out K epochs further, "
                   "from its weights and optimizer state, on the data it was trained on "
                   "(other training options are taken from its ensemble.json)")
@click.option("--init-from", type=click.Path(), default=None, metavar="MODELS_DIR",
              help="start each member from the matching member of this ensemble (same image "
                   "channels and size; a new last layer when the classes differ)")
@click.option("--freeze", type=click.Choice(["features"]), default=None,
              help="with --init-from: keep the weights of every layer before the Flatten "
                   "(the convolutions and their BatchNorm scales) fixed; the dense layers "
                   "after it train")
@recipe_options
@click.option("--quiet", "-q", is_flag=True, help="no progress output while training")
def train_ensemble(n, preset, epochs, arch, augment, seed, out_dir, jobs, backend, scheduler,
                   train_limit, data_dir, data, test_path, label_column, class_names, more_epochs,
                   init_from, freeze, quiet, **recipe):
    """Train N CNNs in parallel; write OUT/ensemble.json, member files and learning curves."""
    from contest.cli.long_runs import run_train

    click.echo(run_train(
        more_epochs=more_epochs, quiet=quiet, n=n, preset=preset, epochs=epochs, arch=arch,
        augment=augment, seed=seed, out_dir=out_dir, jobs=jobs, backend=backend,
        scheduler=scheduler, train_limit=train_limit, data_dir=data_dir, data=data,
        test=test_path, label_column=label_column, class_names=class_names,
        init_from=init_from, freeze=freeze, recipe=recipe_changes(recipe)))


@main.command()
@click.argument("images", type=click.Path())
@click.option("-o", "--output", type=click.Path(), default="submissions/submission.txt",
              help="submission file ('-': standard output; the summary then goes to stderr)")
@models_option
@click.option("--format", "fmt", type=click.Choice(["txt", "csv"]), default=None,
              help="txt: one label per line; csv: Kaggle ImageId,Label (1-based) "
                   "[default: from the output's extension]")
@click.option("--proba", type=click.Path(), default=None, help="also save the averaged "
              "probabilities (N, classes) float32 to this .npy file")
@batch_option
@click.option("--low-confidence", type=click.FloatRange(0, 1), default=0.9,
              help="report predictions whose probability is below this")
@tta_option
@click.option("--adapt", type=click.Choice(["none", "bn"]), default="none",
              help="bn: re-estimate every member's BatchNorm statistics on IMAGES first (AdaBN: "
                   "no training, seconds); for a whole adapted ensemble see `contest adapt`")
def predict(images, output, models, fmt, proba, batch_size, low_confidence, tta, adapt):
    """Predict IMAGES (.npy/.npz (N,H,W) grey or (N,H,W,C)/(N,C,H,W) colour, or flat (N,C*H*W),
    of the ensemble's size (MNIST: (N,28,28)/(N,784)/(N,1,28,28)), uint8 0-255 or float 0-1; a
    Kaggle test.csv, JSON lists, an IDX file or a picture) and write a submission."""
    from contest.cli.run import run_predict

    click.echo(run_predict(images, output, models, fmt, proba, batch_size, low_confidence, tta,
                           adapt), err=output == "-")


@main.command()
@models_option
@click.option("--images", type=click.Path(), required=True,
              help="the unlabelled contest images (any form `predict` accepts)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="directory of the adapted ensemble (rerun the same command to resume)")
@click.option("--rounds", type=click.IntRange(min=0), default=2, help="self-training rounds")
@click.option("--epochs", type=click.IntRange(min=1), default=1, help="epochs per round")
@click.option("--lr-scale", type=click.FloatRange(min=0, min_open=True), default=0.1,
              help="self-training learning rate: the preset's times this")
@click.option("--precision", type=click.FloatRange(0, 1, min_open=True), default=0.995,
              help="pseudo-label precision on validation the confidence threshold must reach")
@click.option("--max-val-drop", type=click.FloatRange(min=0), default=0.5,
              help="points of validation accuracy (BatchNorm re-estimated on validation) a "
                   "self-training round may cost before it is undone")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.5,
              help="adapt only if the members agree on the images at least this fraction as "
                   "often as on validation (pure noise: ~0.05)")
@click.option("--min-spread", type=click.FloatRange(0, 1), default=0.5,
              help="adapt only if the predictions on the images spread over at least this "
                   "fraction of the effective number of classes they do on validation")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="seed of self-training")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="parallel workers")
@data_dir_option
@batch_option
@click.option("--quiet", "-q", is_flag=True, help="no progress output")
def adapt(models, images, out_dir, rounds, epochs, lr_scale, precision, max_val_drop,
          min_agreement, min_spread, seed, jobs, data_dir, batch_size, quiet):
    """Adapt an ensemble to unlabelled IMAGES: BatchNorm statistics, then self-training on the
    images all members label alike with a confidence chosen on validation. Reads no labels."""
    from contest.cli.long_runs import run_adapt

    click.echo(run_adapt(quiet, models=models, images=images, out_dir=out_dir, rounds=rounds,
                         epochs=epochs, lr_scale=lr_scale, precision=precision,
                         max_val_drop=max_val_drop, min_agreement=min_agreement,
                         min_spread=min_spread, seed=seed, jobs=jobs, data_dir=data_dir,
                         batch_size=batch_size))


@main.command("predict-one")
@click.option("--index", type=click.IntRange(min=0), default=0,
              help="image number in the test set (or in --image)")
@click.option("--image", type=click.Path(), default=None,
              help="an image file (.npy of the ensemble's size, or a .png of any size: a grey "
                   "image of another size is cropped to the digit and centred like MNIST) "
                   "instead of the test set")
@click.option("--label", type=click.IntRange(min=0), default=None,
              help="true label (class number) of --image")
@models_option
@data_dir_option
@click.option("--save-png", type=click.Path(), default=None,
              help="save the image with a probability bar chart")
def predict_one(index, image, label, models, data_dir, save_png):
    """Show one digit, the ensemble's prediction, top 3 and every member's vote."""
    from contest.cli.run import run_predict_one

    click.echo(run_predict_one(models, index, image, label, data_dir, save_png))


@main.command()
@models_option
@click.option("--images", type=click.Path(), default=None, help="images to evaluate on "
              "(with --labels) [default: the test set]")
@click.option("--labels", type=click.Path(), default=None, help="labels .npy for --images")
@data_dir_option
@batch_option
@click.option("--report", type=click.Path(), default=None,
              help="save the confusion matrix and the mistakes (and, with --robustness, the "
                   "robustness table) to this .png; variant examples go to FILE-variants.png")
@tta_option
@click.option("--robustness", is_flag=True,
              help="also score every member, the mean member and the ensemble on harder "
                   "variants of the images (shifted, rotated, noisy, low contrast, ...)")
@click.option("--variants", cls=VariantsOption, default=None, metavar="NAME,...")
@click.option("--seed", type=click.IntRange(min=0), default=0,
              help="seed of the robustness variants")
@click.option("--view", "views", multiple=True, type=click.Choice(sorted(VIEWS)),
              help="also show this view (repeat for several)")
def evaluate(models, images, labels, data_dir, batch_size, report, tta, robustness, variants,
             seed, views):
    """Accuracy of every member and of the ensemble, confusion matrix, misclassified indices;
    with --robustness, accuracy on harder variants of the images."""
    from contest.cli.run import run_evaluate

    click.echo(run_evaluate(models, images, labels, data_dir, batch_size, report, tta,
                            robustness, seed, variants, views))


@main.command()
@click.argument("submission", type=click.Path())
@click.option("--labels", type=click.Path(), required=True, help="true labels (.npy)")
def score(submission, labels):
    """Accuracy of a SUBMISSION (.txt or Kaggle .csv) against true labels."""
    from contest.cli.run import run_score

    click.echo(run_score(submission, labels))


@main.command()
@click.option("--split", type=click.Choice(["test", "train"]), default="test")
@click.option("--out", type=click.Path(), required=True,
              help="images file: .npy (uint8 (N, H, W), e.g. (N, 28, 28) for MNIST) or "
                   "Kaggle-style .csv")
@click.option("--format", "fmt", type=click.Choice(["npy", "csv"]), default=None,
              help="csv: Kaggle's layout, train.csv (label,pixel0,...) for the train split, "
                   "test.csv (pixel0,...) for the test split [default: from --out's extension]")
@click.option("--labels", type=click.Path(), default=None, help="also write labels (.npy)")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="only the first N")
@source_data_dir_option
def export(split, out, fmt, labels, limit, data_dir):
    """Write a dataset split as contest input, to try the predict/score and the Kaggle loops."""
    from contest.cli.run import run_export

    click.echo(run_export(split, out, labels, limit, data_dir, fmt))


@main.command()
@models_option
@serve_options
def serve(models, **options):
    """Serve the ensemble over HTTP: POST /predict, GET /health, /info, /docs, and a page at /
    to draw a digit and see every member's vote (needs pip install 'contest-cnn[serve]')."""
    from contest.serve.run import run_server

    run_server(models, settings_of(options))


main.add_command(compare)
main.add_command(inspect_group)

if __name__ == "__main__":
    main()

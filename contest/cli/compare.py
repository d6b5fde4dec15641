"""`contest compare`: the click command (contest.train.compare trains the variants,
contest.evaluate.comparison writes the report). Registered on the `contest` group in
contest.cli.commands."""
import click

from contest.cli.errors import interruptible
from contest.train.options import recipe_options
from contest.train.presets import PRESETS


@click.command("compare", context_settings={"show_default": True, "max_content_width": 100})
@click.option("--vary", "vary", multiple=True, required=True, metavar="NAME=V1,V2,...",
              help="values of one setting to compare: a training option below (optimizer, lr, "
                   "init, dropout, weight-decay, ...), epochs or arch; several --vary make a grid")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="comparison",
              help="directory of the variants and the report (rerun the command to resume)")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="fast",
              help="base recipe; the options below change it for every variant")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="[default: the preset's]")
@click.option("--arch", default=None, metavar="NAME|mlp:WxW...",
              help="base architecture [default: the preset's]")
@click.option("--seed", type=click.IntRange(min=0), default=0,
              help="every variant draws from the same stream of this seed")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="parallel workers [default: one per core, or a few more]")
@click.option("--train-limit", type=click.IntRange(min=20), default=None,
              help="use only the first N training images (the last tenth, at most the "
                   "preset's validation size, is the validation split)")
@click.option("--data", type=click.Path(), default=None,
              help="labelled training data, in the forms train-ensemble reads [default: "
                   "--data-dir, else the bundled MNIST]")
@click.option("--data-dir", type=click.Path(), envvar="CONTEST_DATA_DIR", default=None,
              help="directory of MNIST-format IDX files")
@click.option("--test", "test_path", type=click.Path(), default=None,
              help="labelled test set [default: the data's own test split, if any]")
@recipe_options
@click.option("--quiet", "-q", is_flag=True, help="no progress output while training")
def compare(vary, out_dir, preset, epochs, arch, seed, jobs, train_limit, data, data_dir,
            test_path, quiet, **options):
    """Train one network per variant of a recipe (same seed, same data) and compare them:
    OUT/compare-curves.png, OUT/compare.csv, OUT/compare.md and the table below."""
    from contest.train.compare import parse_vary

    base_values = {"epochs": epochs, "arch": arch, **options}
    with interruptible(f"interrupted: finished variants and per-epoch checkpoints are kept in "
                       f"{out_dir}; rerun the same command to resume"):
        text = _run(parse_vary(vary), base_values, preset, out_dir, seed, jobs, train_limit,
                    data, data_dir, test_path, quiet)
    click.echo(text)


def _run(vary, base_values, preset, out_dir, seed, jobs, train_limit, data, data_dir, test_path,
         quiet):
    from contest.evaluate.comparison import text_table, variant_results, write_report
    from contest.train.compare import CompareSettings, run_compare, variant_preset
    from contest.train.plan import TrainSettings
    from contest.train.progress import choose_mode

    base = variant_preset(PRESETS[preset], base_values, {})
    settings = TrainSettings(preset=base, seed=seed, out_dir=out_dir, jobs=jobs,
                             train_limit=train_limit, data_dir=data_dir, data=data,
                             test=test_path, normalisation=base.normalisation)
    compared = CompareSettings(settings, base_values, vary)
    data_, labels, _ = run_compare(settings, compared, monitor_mode=choose_mode(quiet))
    rows = variant_results(out_dir, data_, labels)
    title = (" x ".join(name for name, _ in vary) + f" compared (preset {preset}, arch "
             f"{base.arch}; {len(data_.y_train)} training, {len(data_.y_val)} validation images)")
    files = write_report(out_dir, rows, title)
    return text_table(rows) + "\n" + "wrote " + ", ".join(str(f) for f in files)

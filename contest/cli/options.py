"""Options that several commands share, and options whose help is read only when shown."""
import click


def _data_dir_option(default):
    return click.option("--data-dir", type=click.Path(), envvar="CONTEST_DATA_DIR",
                        show_envvar=True, default=None,
                        help=f"directory of MNIST-format IDX files (default: {default})")


class VariantsOption(click.Option):
    """--variants, whose help lists the variant names: read only when the help is shown, so that
    other commands do not import the variants (and SciPy) at start-up."""

    def get_help_record(self, ctx):
        from contest.evaluate.variants import VARIANTS

        self.help = ("only these robustness variants (implies --robustness): "
                     + ", ".join(VARIANTS) + " [default: all]")
        return super().get_help_record(ctx)


# commands that read an ensemble fall back on its training data; the others on the bundled MNIST
data_dir_option = _data_dir_option("the bundled MNIST, or the data the ensemble was trained on")
source_data_dir_option = _data_dir_option("the bundled MNIST")

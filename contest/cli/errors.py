"""One-line command-line errors for click's own refusals (bad option values, unknown options,
missing arguments), as for every other refused input: `Error: --seed: must be >= 0`, exit
status 2, no usage banner and no "Try --help" line; and how an interrupted command ends
(Ctrl-C or SIGTERM: one line, exit status 130).
"""
from contextlib import contextmanager

import click


class OneLineUsageError(click.ClickException):
    """A click UsageError shown as the single line 'Error: message', exit status 2."""
    exit_code = 2


def one_line_message(exc):
    """`--option: problem` for a bad parameter value, click's own message otherwise, one line."""
    text = exc.format_message()
    if isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter):
        hint = exc.param_hint
        if hint is None and exc.param is not None:
            hint = exc.param.get_error_hint(exc.ctx)
        if hint is not None:
            hint = " / ".join(hint) if isinstance(hint, (list, tuple)) else hint
            text = f"{hint.replace(chr(39), '')}: {exc.message}"
    return " ".join(text.split())


class OneLineCommand(click.Command):
    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise OneLineUsageError(one_line_message(exc)) from None


class OneLineGroup(click.Group):
    """A group whose own and whose commands' usage errors are one line (see module docstring)."""
    command_class = OneLineCommand

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise OneLineUsageError(one_line_message(exc)) from None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(one_line_message(exc)) from None


class NonNegativeInt(click.ParamType):
    """An integer >= 0 (seeds): `--seed: must be >= 0 (received: -1)`."""
    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip(), 10)
            except ValueError:
                self.fail(f"must be an integer >= 0 (received: {value!r})", param, ctx)
        if number < 0:
            self.fail(f"must be >= 0 (received: {value!r})", param, ctx)
        return number


class ContestUsageError(click.ClickException):
    """A ContestError shown by click: 'Error: message', exit status 2."""
    exit_code = 2


class ContestInterrupted(click.ClickException):
    """Ctrl-C during training: one line, exit status 130 like any interrupted command."""
    exit_code = 130


@contextmanager
def sigterm_as_interrupt():
    """Inside, a SIGTERM (`kill`, a batch scheduler's time limit) stops the work as Ctrl-C does:
    the worker processes are stopped with it instead of running on, orphaned."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:        # not the main thread (an embedding program): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

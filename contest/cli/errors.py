"""One-line command-line errors for click's own refusals (bad option values, unknown options,
missing arguments), as for every other refused input: `Error: --seed: -1 is not in the range
x>=0.`, exit status 2, no usage banner and no "Try --help" line; and how an interrupted command
ends (Ctrl-C or SIGTERM: one line, exit status 130).
"""
from contextlib import contextmanager

import click


class ContestUsageError(click.ClickException):
    """A refused input, by click or by contest (a ContestError): the single line
    'Error: message', exit status 2."""
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
            raise ContestUsageError(one_line_message(exc)) from None


class OneLineGroup(click.Group):
    """A group whose own and whose commands' usage errors are one line (see module docstring)."""
    command_class = OneLineCommand

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise ContestUsageError(one_line_message(exc)) from None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise ContestUsageError(one_line_message(exc)) from None


class ContestInterrupted(click.ClickException):
    """Ctrl-C or SIGTERM during a long command: one line, exit status 130 like any interrupted
    command."""
    exit_code = 130


@contextmanager
def interruptible(message):
    """The one interrupt handling of the long commands: inside, Ctrl-C or SIGTERM stops the work
    (worker processes with it); the command then ends with the line `message`, exit status 130."""
    try:
        with sigterm_as_interrupt():
            yield
    except KeyboardInterrupt:
        raise ContestInterrupted(message) from None


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

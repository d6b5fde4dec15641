"""`contest compare`: one base recipe trained under several settings, side by side.

Each `--vary name=v1,v2,...` lists values of one setting (a train-ensemble option, `epochs` or
`arch`); several --vary make a grid. Every variant is one network trained with the same seed
stream (the same initial-weight draws where the shapes agree, the same batch order) on the same
data slice, as the members of an ensemble are: in parallel worker processes, checkpointed every
epoch, resumed by rerunning the command. The directory holds `compare.json` (what was asked, so a
rerun with other settings is refused), `member-K.npz` per variant and the report
(contest.evaluate.comparison). Results do not depend on --jobs.
"""
import itertools
from dataclasses import dataclass, replace

from contest.errors import ContestError
from contest.fileio import read_json, write_json
from contest.modeldir.files import member_path
from contest.modeldir.guard import guarded_training
from contest.train.architectures import member_arch
from contest.train.options import OPTION_NAMES, RECIPE_OPTIONS, recipe_changes
from contest.train.plan import TrainSettings, default_workers, member_threads, prepare_data
from contest.train.presets import PRESETS

COMPARE_FILE = "compare.json"
VARY_NAMES = ("epochs", "arch") + OPTION_NAMES


@dataclass(frozen=True)
class CompareSettings:
    """What `contest compare` was asked to do: the base settings (preset, options, data) and the
    varied values [(name, [values])]."""
    base: TrainSettings
    base_values: dict
    vary: tuple


def option_types():
    """{option name: click type} of the recipe options, for reading --vary values."""
    import click

    probe = click.command()(lambda **kwargs: None)
    for option in RECIPE_OPTIONS:
        probe = option(probe)
    return {p.name: p.type for p in probe.params}


def parse_vary(specs):
    """((name, (value, ...)), ...) from --vary 'name=v1,v2' strings; ContestError if malformed."""
    import click

    types, parsed = option_types(), []
    types["epochs"] = click.IntRange(min=1)
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in VARY_NAMES or not values.strip():
            raise ContestError(f"--vary: expected NAME=V1,V2,... with NAME one of "
                               f"{', '.join(VARY_NAMES)} (received: {spec!r})")
        if name in dict(parsed):
            raise ContestError(f"--vary: {name} is varied twice")
        parsed.append((name, tuple(_vary_value(name, v.strip(), types) for v in
                                   values.split(","))))
    return tuple(parsed)


def _vary_value(name, text, types):
    import click

    try:
        if name == "arch":
            member_arch(text, 0)
            return text
        return types[name].convert(text, None, None)
    except (click.BadParameter, ValueError) as exc:
        raise ContestError(f"--vary: {name}={text}: {exc}") from None


def variants(vary):
    """[(label, {name: value})] of the grid of the varied values, in the order given."""
    names = [name for name, _ in vary]
    grid = itertools.product(*(values for _, values in vary))
    return [(", ".join(f"{n}={_text(v)}" for n, v in zip(names, combo)), dict(zip(names, combo)))
            for combo in grid]


def _text(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def variant_preset(base_preset, base_values, changes):
    """The Preset of one variant: the base preset with the base options and the variant's."""
    values = {**base_values, **changes}
    if values.get("init") != "gaussian":
        values.pop("init_std", None)   # a varied init leaves the gaussian std to gaussian only
    structural = {key: values.pop(key) for key in ("epochs", "arch") if values.get(key)}
    if "arch" in structural:
        try:
            member_arch(structural["arch"], 0)
        except ValueError as exc:
            raise ContestError(f"--arch: {exc}") from None
    return replace(base_preset, **structural, **recipe_changes(values))


def compare_identity(settings, presets, labels, run):
    return {"format": 1, "vary": [[name, list(values)] for name, values in settings.vary],
            "variants": [{"label": label, "preset": preset.to_dict()}
                         for label, preset in zip(labels, presets)], "data": run}


def check_identity(out_dir, identity):
    """Refuse a directory holding another comparison; record ours."""
    import json

    path = out_dir / COMPARE_FILE
    identity = json.loads(json.dumps(identity))
    if path.exists():
        if read_json(path) != identity:
            raise ContestError(f"{out_dir}: holds another comparison (other settings or data); "
                               f"use another --out or delete it")
        return
    write_json(path, identity)


@guarded_training
def run_compare(base, compare, monitor_mode="lines", stream=None):
    """Train the variants not finished yet; returns (data, labels, presets). `base` is the
    TrainSettings (the guard locks base.out_dir), `compare` the CompareSettings."""
    from pathlib import Path

    labeled = variants(compare.vary)
    labels = [label for label, _ in labeled]
    presets = [variant_preset(base.preset, compare.base_values, changes) for _, changes in labeled]
    data = prepare_data(replace(base, n=len(presets)))
    out_dir = Path(base.out_dir)
    check_identity(out_dir, compare_identity(compare, presets, labels, data.run))
    todo = [k for k in range(len(presets)) if not member_path(out_dir, k).is_file()]
    _train_variants(base, data, presets, labels, todo, monitor_mode, stream)
    return data, labels, presets


def _train_variants(base, data, presets, labels, todo, monitor_mode, stream):
    import sys

    from contest.modeldir.ensemble import available_cores
    from contest.train.local import run_jobs
    from contest.train.member import MemberJob
    from contest.train.progress import ProgressMonitor, clean_progress

    if not todo:
        return
    cores = available_cores()
    workers = min(base.jobs, len(todo)) if base.jobs else default_workers(len(todo), cores)
    threads = member_threads(len(todo), workers, len(presets), cores)
    jobs = [MemberJob(index=k, seed=base.seed, preset=presets[k], normalisation=base.normalisation,
                      out_dir=str(base.out_dir), threads=t, stream=0,
                      run={**data.run, "preset": presets[k].to_dict(), "variant": labels[k]})
            for k, t in zip(todo, threads)]
    if monitor_mode != "quiet":
        names = "; ".join(f"{k}: {labels[k]}" for k in todo)
        print(f"{data.source.header()}; variants {names}", file=stream or sys.stderr, flush=True)
    epochs = max(presets[k].epochs for k in todo)
    with ProgressMonitor(base.out_dir, todo, epochs, monitor_mode, stream):
        run_jobs(jobs, workers, base.backend, data)
    clean_progress(base.out_dir, todo)


def base_preset(name):
    if name not in PRESETS:
        raise ContestError(f"--preset: unknown preset {name!r}")
    return PRESETS[name]

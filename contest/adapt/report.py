"""The text `contest adapt` prints: one block per stage, then a summary of the result."""
from contest.cli.display import percent

SHOWN_CHANGES = 20


def _classes(counts):
    return " ".join(f"{digit}:{count}" for digit, count in enumerate(counts))


def _changes(report):
    listed = ", ".join(map(str, report["changed_indices"][:SHOWN_CHANGES]))
    more = " ..." if report["changed"] > SHOWN_CHANGES else ""
    return f"predictions changed: {report['changed']}" + (f" ({listed}{more})" if listed else "")


def task_text(check):
    """Whether the images were taken for the task's, with the two ratios behind it."""
    verdict = "adapting" if check["passed"] else "not adapting: images unlike the training data"
    return (f"members agree on {percent(check['contest_agreement'])} of the images, "
            f"{check['ratio']:.2f} of validation's (minimum {check['min_ratio']:.2f}); "
            f"class spread {check['spread_ratio']:.2f} of validation's (minimum "
            f"{check['min_spread']:.2f}): {verdict}")


def stage_text(report):
    """A few lines about one stage (batchnorm or self-training round)."""
    if report["kind"] == "batchnorm":
        head = f"stage 0 (BatchNorm statistics, {report['batchnorm_layers']} layers)"
    else:
        head = (f"round {report['stage']}: {report['pseudo_labelled']} images pseudo-labelled, "
                f"classes {_classes(report['pseudo_classes'])}")
    if "skipped" in report:
        return f"{head}: skipped ({report['skipped']})"
    verdict = "kept" if report["accepted"] else "undone (validation accuracy fell too far)"
    weights = report.get("weights_accuracy")
    weights = "" if weights is None else f", {percent(weights)} with BatchNorm on validation"
    return "\n".join([
        head,
        f"  member agreement {percent(report['agreement_before'])} -> "
        f"{percent(report['agreement_after'])}; {_changes(report)}",
        f"  predicted classes {_classes(report['classes_after'])}",
        f"  validation accuracy {percent(report['val_accuracy'])}{weights}: {verdict}"])


def adapt_text(manifest, out_dir, seconds, with_stages=True):
    """The closing summary of `contest adapt`; `with_stages`: with every stage's lines too."""
    adapted = manifest["adapted"]
    final = adapted["final_stage"]
    kept = "the source members (no stage kept)" if final is None else f"stage {final}"
    if not adapted["task_check"]["passed"]:
        kept += "; " + task_text(adapted["task_check"])
    return "\n".join([
        f"adapted ensemble of {len(manifest['members'])} members to {adapted['images']} images "
        f"({adapted['images_file']}, sha256 {adapted['images_sha256'][:12]}...) in "
        f"{out_dir}/ensemble.json, {seconds:.0f} s",
        f"result: {kept}; validation accuracy {percent(adapted['source_validation_accuracy'])} "
        f"-> {percent(manifest['validation_accuracy'])}; "
        f"{adapted['changed_from_source']} predictions differ from the source ensemble's",
        *[stage_text(report) for report in adapted["stages"] if with_stages]])

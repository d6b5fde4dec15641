"""The training pipeline, dependencies pointing one way (each module uses only those above it):

    network, options, best   the mlp and the recipe's activation, dropout and initialiser; the
                             recipe options and the optimizer they build; --restore-best
    architectures, presets   the networks and the named training settings
    recipes                  the default preset adapted to the data (digits or other images)
    augment_limits           the allowed range of every augmentation parameter
    progress                 members' progress reports and the parent's display of them
    continue_member          a member that starts from saved weights (more epochs, fine-tuning)
    member                   training one member (resumable, seeded by its index)
    plan                     the run's settings, data and identity; the members' jobs
    local, cluster           the pending members in parallel here (joblib) or on Dask
    finish                   verify and score the members, write curves and the manifest
    run                      train_ensemble: plan, local or Dask, finish
    more_epochs              train-ensemble --more-epochs: a finished ensemble trained further
    compare                  contest compare: one network per variant of a recipe
"""

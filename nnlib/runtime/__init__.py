"""How nnlib runs: the planner and everything process-wide, in one place.

- `plan`: the only code that looks at layer types; turns a Sequential's layers into steps for
  training (fusion, ReLU/pool reordering, blocks) and inference (conv-BN-ReLU-pool fusion).
- `steps`: the step objects a plan runs.
- `threads`: `set_num_threads` / `get_num_threads` and the thread pool that shares a batch out
  (started at first use; importing nnlib starts nothing).
- `blocks`: per-sample networks training in blocks on forked helper processes (n threads ->
  n - 1 helpers).
- `memory`: `retain_freed_memory`, the malloc setting an application may choose to make.
- `constants`: every constant that decides how work is split (GROUP, BLOCK, ROWS, chunks).
"""

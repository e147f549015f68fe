"""The run harness: the training loop (`loop`), device engines (`engine`), checkpoints, writers,
plots, the `jgan` command (`cli`) and the installed `configs`. Researchers who call the step from
their own code need none of it."""

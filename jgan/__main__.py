"""`python -m jgan COMMAND ...`: the `jgan` command (`jgan --help`)."""
from jgan.run import cli

cli.main()

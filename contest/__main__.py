"""`python -m contest`: the same command as `contest`."""
from contest.cli import main

main()

"""`python -m cgtqc` runs the command line."""

from cgtqc.cli import main

main()

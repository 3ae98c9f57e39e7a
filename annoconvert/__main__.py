"""`python -m annoconvert` runs the command line."""

from annoconvert.cli import main

main()

"""`python3 -m controller.cli`: the same as `gitline`."""

from controller.cli import main

main()

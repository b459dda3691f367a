"""`python -m dolbom`."""

from dolbom.cli import main

main()

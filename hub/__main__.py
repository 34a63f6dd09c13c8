"""``python -m hub`` runs the CLI, as the ``hub`` script does."""

from hub.cli import main

main()

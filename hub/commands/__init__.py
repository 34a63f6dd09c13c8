"""CLI command groups, one module per noun (``hub sources``, ``hub subscribers``, …).

Each module exposes click commands; ``hub/cli.py`` adds them to the ``hub`` group.
"""

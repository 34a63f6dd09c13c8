"""WhatsApp News Hub: news from feeds, sites and sheets, delivered one-to-one over WhatsApp.

Plugins write ``@hub.hookimpl`` on functions named after the specs in :mod:`hub.hookspecs`.
"""

from hub.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]

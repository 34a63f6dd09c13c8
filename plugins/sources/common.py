"""Options every built-in source that reads the web shares."""

from __future__ import annotations

from pydantic import Field

from hub.contracts import SourceOptions


class WebSourceOptions(SourceOptions):
    """A source fetched over HTTP: by default only from public addresses."""

    allow_private: bool = Field(
        False, description="allow loopback, private and link-local addresses (127.0.0.1, "
        "10.0.0.0/8, 169.254.0.0/16…), also after redirects; for a feed on your own network")

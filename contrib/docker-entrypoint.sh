#!/bin/sh
# The image's entrypoint: on a first start with an empty /data volume, write a starter hub.toml
# (console sink, the sample feed, SQLite in /data) instead of failing, then run the command.
# An existing hub.toml is never touched.
set -eu
config="${HUB_CONFIG:-/data/hub.toml}"
if [ ! -e "$config" ]; then
    echo "docker-entrypoint: no $config yet; writing a starter one (edit it, then restart the container)" >&2
    hub init "$config" >&2
fi
exec "$@"

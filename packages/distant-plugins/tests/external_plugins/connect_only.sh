#!/bin/sh
# The specification's minimal plugin shape, in shell: launch is unsupported.
case "$1" in
launch)
    echo '{"error": {"kind": "unsupported", "description": "launch not supported"}}'
    exit 1
    ;;
connect)
    echo "connect-only plugin: no backend here" >&2
    echo '{"error": {"kind": "connection_refused", "description": "nothing listens"}}'
    exit 1
    ;;
*)
    echo "Usage: $0 {launch|connect} <destination> [options]" >&2
    exit 1
    ;;
esac

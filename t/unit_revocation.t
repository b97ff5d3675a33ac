#!/bin/sh
exec "$(dirname "$0")/../build/t/unit_revocation" "$(dirname "$0")"

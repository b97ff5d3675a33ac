#!/bin/sh
exec "$(dirname "$0")/../build/t/unit_scep" "$(dirname "$0")"

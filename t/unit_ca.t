#!/bin/sh
exec "$(dirname "$0")/../build/t/unit_ca" "$(dirname "$0")"

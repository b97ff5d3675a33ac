#!/bin/sh
exec "$(dirname "$0")/../build/t/unit_profile" "$(dirname "$0")"

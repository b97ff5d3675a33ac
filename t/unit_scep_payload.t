#!/bin/sh
exec "$(dirname "$0")/../build/t/unit_scep_payload" "$(dirname "$0")"

#!/bin/sh
exec "$(dirname "$0")/../build/t/$(basename "$0" .t)" "$(dirname "$0")"

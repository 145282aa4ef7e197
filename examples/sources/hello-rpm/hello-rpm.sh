#!/bin/sh
# hello-rpm: the example rpm package Kiln builds, signs, publishes and promotes.
case "${1:-}" in
  --version) echo "hello-rpm 1.0.0" ;;
  *) echo "Hello, ${1:-world}, from an rpm Kiln built." ;;
esac

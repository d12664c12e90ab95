#!/bin/sh
# The Debian packages the local emulator and the tests use, installed when missing: bubblewrap (the emulator runs
# sandbox processes in it), openssh-client (ssh into an emulator sandbox) and tmux (terminal tests).
# As root with apt-get it installs them; otherwise it prints one line saying what to install. It never fails its
# caller (npm start, npm test): without bubblewrap the emulator itself refuses to start and says what to do.
set -u
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
command -v ssh >/dev/null 2>&1 || missing="$missing openssh-client"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "effect-daytona: installing$missing with apt-get" >&2
  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >/dev/null 2>&1; then
    exit 0
  fi
  echo "effect-daytona: apt-get could not install$missing: install them by hand (without bubblewrap the emulator needs --unsafe-host-processes)" >&2
  exit 0
fi
echo "effect-daytona: missing$missing: install them (Debian/Ubuntu: sudo apt-get install$missing); without bubblewrap the emulator needs --unsafe-host-processes" >&2
exit 0

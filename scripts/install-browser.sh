#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver for the browser test of `contest serve`
# (tests/contest/test_serve_browser.py). Does nothing when /usr/bin/chromium is already there.
# Where the packages cannot be installed (no root, no apt), it says so and exits 0: the test then
# skips itself with that reason.
set -uo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "install-browser: chromium and chromedriver already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; the browser test will be skipped"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-browser: not root and no sudo; the browser test will be skipped"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium chromium-driver; then
    echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null)"
else
    echo "install-browser: apt-get could not install chromium; the browser test will be skipped"
fi
exit 0

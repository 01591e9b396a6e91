#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the browser test
# (tests/test_site_browser.py). Installs it with apt-get when missing (as root, or through
# sudo when sudo works without a password), quietly; prints one line saying what happened.
# Never fails: without Chromium the browser test skips with its reason.
if [ -x /usr/bin/chromium ]; then
  echo "[chromium] present: /usr/bin/chromium"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "[chromium] missing, and no root or sudo to install it: the browser test will skip"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[chromium] missing, and no apt-get to install it: the browser test will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq chromium; } \
  >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then
  echo "[chromium] installed with apt-get: /usr/bin/chromium"
else
  echo "[chromium] apt-get install chromium failed: the browser test will skip"
fi
exit 0

#!/usr/bin/env bash
# Installs the Debian packages bench/make_bench_corpus.py takes its text from:
# documentation and man pages in many languages, dictionaries and books,
# translated help, and the sources of many projects in many programming
# languages. Only the benchmark corpus needs them (not the build, the tests or
# CI). Idempotent; as root or with sudo. About 1.5 GB installed.
set -euo pipefail

PACKAGES=(
  # English prose
  manpages manpages-dev python3-doc perl-doc linux-doc debian-handbook debian-reference-en debian-faq
  debian-history doc-debian bash-doc git-man fortunes fortunes-bofh-excuses bible-kjv-text dict-gcide dict-foldoc
  dict-jargon dict-devil jargon-text gnome-user-docs emacs-common
  # Other languages: man pages, the Debian reference and handbook, fortunes (GNOME's help and the
  # gettext catalogs of everything installed add more)
  manpages-{cs,da,de,el,es,fi,fr,hu,it,ja,mk,nl,pl,pt-br,ro,ru,sv,tr,uk,zh}
  debian-reference-{de,es,it,ja,pt,zh-cn,zh-tw}
  fortunes-{bg,br,cs,de,eo,es,ga,it,pl,ru,zh}
  # Source code: C (the kernel), C++ (Boost), Rust, Go, Java, JavaScript, Ruby
  linux-source-6.1 libboost1.81-dev rust-src golang-1.19-src openjdk-17-source ruby3.1
  node-typescript node-babel7 node-acorn node-lodash libjs-three libjs-jquery-ui libjs-pdf libjs-d3
  # the tools it runs
  zstd python3
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

#!/usr/bin/env bash
# Builds oneTBB with ThreadSanitizer for the tsan preset and prints the
# folder to pass as -DTBB_DIR.
#
# Why: Debian's libtbb is not instrumented, so TSan cannot see the
# synchronisation inside it (task hand-over between threads, its task
# allocator) and reports races in every parallel_for. The fix TSan's
# authors give is to instrument every library that synchronises; this
# builds the very version of oneTBB that libtbb-dev installs, from Debian's
# source package (the upstream tarball; Debian's patches are not applied,
# which does not matter for a test build), into build/tbb-tsan. About a
# minute on 2 cores, once: a later call reuses it.
#
#   bash scripts/tsan-tbb.sh          prints <repo>/build/tbb-tsan/install/lib/cmake/TBB
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/build/tbb-tsan
tbb_dir=$root/install/lib/cmake/TBB
if [ -f "$tbb_dir/TBBConfig.cmake" ] && [ -f "$root/version" ] &&
  [ "$(cat "$root/version")" = "$(dpkg-query -W -f='${Version}' libtbb-dev)" ]; then
  echo "$tbb_dir"
  exit 0
fi

version=$(dpkg-query -W -f='${Version}' libtbb-dev)
rm -rf "$root"
mkdir -p "$root/apt/parts" "$root/apt/lists/partial" "$root/apt/cache/archives/partial" "$root/src"
# A private apt state for the source index only: the system's package lists
# and sources are left as they are.
cat >"$root/apt/parts/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o "Dir::Etc::SourceParts=$root/apt/parts" -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::State::Lists=$root/apt/lists" -o "Dir::Cache=$root/apt/cache"
  -o "APT::Sandbox::User=root" -qq)
echo "tsan-tbb: fetching the source of onetbb $version" >&2
apt-get "${apt_opts[@]}" update >&2
(cd "$root/src" && apt-get "${apt_opts[@]}" source --download-only "onetbb=$version" >&2)
tarball=$(ls "$root"/src/onetbb_*.orig.tar.* | head -1)
tar -xf "$tarball" -C "$root/src"
source_dir=$(find "$root/src" -mindepth 1 -maxdepth 1 -type d | head -1)

echo "tsan-tbb: building oneTBB with -fsanitize=thread (about a minute)" >&2
cmake -S "$source_dir" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBB_STRICT=OFF -DTBBMALLOC_BUILD=OFF \
  -DTBB_SANITIZE=thread -DCMAKE_INSTALL_PREFIX="$root/install" >/dev/null
cmake --build "$root/build" >&2
cmake --install "$root/build" >/dev/null
echo "$version" >"$root/version"
echo "$tbb_dir"

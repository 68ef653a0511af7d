#!/usr/bin/env bash
# Installs the Debian 12 packages talentsim needs to build, test and analyse,
# and only those that are missing. Safe to run again; needs root (or sudo).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  # C++ libraries (see CMakeLists.txt)
  libeigen3-dev libtbb-dev libyaml-cpp-dev libhdf5-dev libgtest-dev
  libcli11-dev libfmt-dev librandom123-dev libbenchmark-dev
  # MPI (the optional mpi preset, built and tested by scripts/test.sh): Open MPI
  libopenmpi-dev openmpi-bin
  # fuzzing (tests/fuzz/run.sh, run by scripts/test.sh): Clang and libFuzzer
  clang-14 libclang-rt-14-dev
  # Python side: reading results as labelled arrays, and the Python tests
  python3 python3-h5py python3-xarray python3-netcdf4 python3-h5netcdf python3-pandas
  python3-matplotlib python3-pil python3-pytest python3-yaml
  # Python side: running the notebooks headless in the tests (the kernel spec
  # "python3" that python3-ipykernel installs runs /usr/bin/python3)
  python3-nbclient python3-ipykernel python3-nbformat
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

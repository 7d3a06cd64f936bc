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

# The six homey tools, built from this workspace. Cargo.lock is read directly (cargoLock.lockFile), so a
# dependency change needs no hash bump here.
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
}:

let
  workspace = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).workspace.package;
  tools = [
    "kuma-sync"
    "authelia-rules"
    "backup-hooks"
    "attic-token"
    "net-watchdog"
    "sdimage"
  ];
in
rustPlatform.buildRustPackage {
  pname = "homey";
  inherit (workspace) version;

  # Only what cargo reads: a README or justfile edit does not rebuild the tools.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../crates
      ../xtask
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  # The tools only: not xtask, not the test doubles.
  cargoBuildFlags = lib.concatMap (tool: [
    "-p"
    tool
  ]) tools;

  nativeBuildInputs = [ installShellFiles ];

  # Man pages and shell completions come from each tool's own clap definition (`TOOL --generate-manual DIR`).
  # Running the tool needs a build that can execute it (not a cross build).
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) (
    lib.concatMapStrings (tool: ''
      $out/bin/${tool} --generate-manual manual/${tool}
      installManPage manual/${tool}/man1/*.1
      installShellCompletion --cmd ${tool} \
        --bash manual/${tool}/completions/${tool}.bash \
        --zsh manual/${tool}/completions/_${tool} \
        --fish manual/${tool}/completions/${tool}.fish
    '') tools
  );

  # The tests start PostgreSQL, slapd, network namespaces and loop devices, which the build sandbox does not
  # allow; they run with `cargo xtask test`, and the flake's VM checks exercise the installed units.
  doCheck = false;

  passthru = { inherit tools; };

  meta = {
    description = "Small Rust tools that run a NixOS homelab: kuma-sync, authelia-rules, backup-hooks, attic-token, net-watchdog, sdimage";
    license = with lib.licenses; [
      mit
      asl20
    ];
    platforms = lib.platforms.linux;
    mainProgram = "sdimage";
  };
}

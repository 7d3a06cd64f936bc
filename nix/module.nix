# The NixOS module: options under `homey.*` that turn into the tools' input files and hardened units.
# One file per tool under ./modules; the sandbox of every unit comes from ./hardening.nix, the same data
# the plain units in contrib/systemd are checked against.
#
# The flake's nixosModules.default is this file: import either; homey.package is built with the host's pkgs.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.homey;
  enabled =
    cfg.monitoring.kumaSync.enable
    || cfg.backup.enable
    || cfg.attic.server.enable
    || cfg.attic.client.enable
    || cfg.netWatchdog.enable;
in
{
  imports = [
    ./modules/credentials.nix
    ./modules/monitoring.nix
    ./modules/authelia.nix
    ./modules/backup.nix
    ./modules/attic.nix
    ./modules/net-watchdog.nix
  ];

  options.homey.package = lib.mkOption {
    type = lib.types.package;
    # pkgs.homey when the flake's overlay is applied, else built here with the host's rustPlatform
    # (nixos-25.05's rustc 1.86 is the workspace's rust-version).
    default = pkgs.homey or (pkgs.callPackage ./package.nix { });
    defaultText = lib.literalExpression "pkgs.homey or (pkgs.callPackage \"\${homey}/nix/package.nix\" { })";
    description = "The homey tools (kuma-sync, authelia-rules, backup-hooks, attic-token, net-watchdog, sdimage).";
  };

  # Once, whichever tools are on: run by hand over SSH, they find their config, credentials and state where
  # the units put them.
  config = lib.mkIf enabled { environment.systemPackages = [ cfg.package ]; };
}

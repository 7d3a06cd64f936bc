# The NixOS module: options under `homey.*` that turn into the tools' input files and hardened units.
# One file per tool under ./modules; the sandbox of every unit comes from ./hardening.nix, the same data
# the plain units in contrib/systemd are checked against.
#
# The flake's nixosModules.default imports this and sets homey.package; imported alone, set it yourself.
{ lib, ... }:

{
  imports = [
    ./modules/monitoring.nix
    ./modules/authelia.nix
    ./modules/backup.nix
    ./modules/attic.nix
    ./modules/net-watchdog.nix
  ];

  options.homey.package = lib.mkOption {
    type = lib.types.package;
    description = "The homey tools (kuma-sync, authelia-rules, backup-hooks, attic-token, net-watchdog, sdimage).";
  };
}

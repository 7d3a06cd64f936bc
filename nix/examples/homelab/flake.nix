# The homelab of ../../../README.md's NixOS section after the migration (docs/migration.md), laid out like the
# seed's: flake.nix with the mkHost builder and homeyConfig specialArgs, hosts/, modules/. Only the pieces homey
# replaces are written out; the rest of each file is what the homelab already has. `cargo xtask checks`
# evaluates nixosConfigurations.pi-main (nix/tests/offline-eval.nix).
{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    homey = {
      url = "git+file:///home/admin/src/homey"; # where this repository is cloned
      # One nixpkgs on the Pi: homey builds with nixos-25.05's rustc 1.86.
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      nixpkgs,
      sops-nix,
      homey,
      ...
    }:
    let
      homeyConfig = {
        domain = "example.com";
        organization = "Example Home";
        timezone = "Europe/Berlin";
      };
      mkHost =
        modules:
        nixpkgs.lib.nixosSystem {
          system = "aarch64-linux";
          specialArgs = { inherit homeyConfig; };
          modules = [
            sops-nix.nixosModules.sops
            homey.nixosModules.default
            ./modules/common.nix
          ]
          ++ modules;
        };
    in
    {
      nixosConfigurations = {
        pi-main = mkHost [
          ./hosts/pi-main
          ./modules/backup.nix
          ./modules/services/uptime-kuma.nix
          ./modules/services/authelia.nix
          ./modules/services/attic.nix
          ./modules/services/nextcloud.nix
        ];
        pi-main-bootstrap = mkHost [ ./hosts/pi-main-bootstrap ];
      };
    };
}

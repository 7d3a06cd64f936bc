{
  description = "homey: small Rust tools that run a NixOS homelab, with hardened systemd units to run them";

  # The homelab's pin. Its rustc (1.86) is the workspace's rust-version, so a host that sets
  # `inputs.homey.inputs.nixpkgs.follows = "nixpkgs"` builds the tools with its own compiler and carries no
  # second nixpkgs.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        homey = pkgs.callPackage ./nix/package.nix { };
        default = homey;
      });

      # Built with the host's own rustPlatform (nixos-25.05's rustc 1.86 or newer).
      overlays.default = final: _prev: { homey = final.callPackage ./nix/package.nix { }; };

      # The module builds homey.package with the host's pkgs (its overlays, its compiler); importing
      # nix/module.nix alone does the same.
      nixosModules.default = ./nix/module.nix;

      # `nix run .#sdimage -- build --flake ~/homelab`, then `sudo ... write IMAGE --device /dev/sdX`.
      apps = forAllSystems (
        pkgs:
        let
          app = tool: {
            type = "app";
            program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/${tool}";
            meta.description = "homey's ${tool}";
          };
        in
        lib.genAttrs [
          "sdimage"
          "kuma-sync"
          "authelia-rules"
          "backup-hooks"
          "attic-token"
          "net-watchdog"
        ] app
        // {
          default = app "sdimage";
        }
      );

      checks = forAllSystems (
        pkgs:
        let
          vmTest = file: pkgs.testers.runNixOSTest (import file { inherit self; });
        in
        {
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          authelia = import ./nix/tests/authelia.nix { inherit self nixpkgs pkgs; };
        }
        # VM tests need KVM, which builders for aarch64 (the Pi itself) rarely have.
        // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == "x86_64-linux") {
          vm-backup = vmTest ./nix/tests/backup.nix;
          vm-kuma-sync = vmTest ./nix/tests/kuma-sync.nix;
          vm-net-watchdog = vmTest ./nix/tests/net-watchdog.nix;
          vm-attic = vmTest ./nix/tests/attic.nix;
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            rust-analyzer
            cargo-nextest
            just
            # what the tests start for real
            restic
            postgresql
            openldap
            sqlite
            zstd
            openssl
            iproute2
            util-linux
            # what cargo xtask checks runs
            nix
            systemd
          ];
        };
      });
    };
}

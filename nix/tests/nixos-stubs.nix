# The NixOS options homey's modules read or set, declared with the types nixos-25.05 gives them (abridged to
# what matters here: list options concatenate, scalar ones must agree, unit settings merge as NixOS's
# unitOption does). Everything else a host sets is taken by a freeform type, as nobody can check it without
# nixpkgs. Works with the stand-in lib and with the real one (nix/tests/offline-eval.nix).
{ lib, pkgs, ... }:

let
  inherit (lib) mkOption types;
  # nixos/lib/systemd-unit-options.nix: a list in any definition makes the setting a list of all of them.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if lib.any (def: builtins.isList def.value) defs' then
        lib.concatMap (def: lib.toList def.value) defs'
      else
        lib.mergeEqualOption loc defs';
  };
  units = types.listOf types.str;
  unit =
    extra:
    types.submodule {
      freeformType = types.attrsOf types.anything;
      options = {
        description = mkOption {
          type = types.str;
          default = "";
        };
        documentation = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        after = mkOption {
          type = units;
          default = [ ];
        };
        before = mkOption {
          type = units;
          default = [ ];
        };
        wants = mkOption {
          type = units;
          default = [ ];
        };
        requires = mkOption {
          type = units;
          default = [ ];
        };
        bindsTo = mkOption {
          type = units;
          default = [ ];
        };
        partOf = mkOption {
          type = units;
          default = [ ];
        };
        conflicts = mkOption {
          type = units;
          default = [ ];
        };
        wantedBy = mkOption {
          type = units;
          default = [ ];
        };
      }
      // extra;
    };
  container = types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      image = mkOption { type = types.str; };
      cmd = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      volumes = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
      environmentFiles = mkOption {
        type = types.listOf types.path;
        default = [ ];
      };
    };
  };
  enableable = types.submodule {
    freeformType = types.attrsOf types.anything;
    options.enable = mkOption {
      type = types.bool;
      default = false;
    };
  };
in
{
  freeformType = types.attrsOf types.anything;

  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      type = types.attrsOf (
        types.submodule {
          freeformType = types.attrsOf types.anything;
          options.source = mkOption { type = types.path; };
        }
      );
      default = { };
    };
    system.checks = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    systemd.package = mkOption {
      type = types.package;
      default = {
        type = "derivation";
        name = "systemd";
        outPath = "/nix/store/00000000000000000000000000000000-systemd";
      };
    };
    systemd.services = mkOption {
      type = types.attrsOf (unit {
        serviceConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
        };
        environment = mkOption {
          type = types.attrsOf types.str;
          default = { };
        };
        path = mkOption {
          type = types.listOf (types.either types.package types.str);
          default = [ ];
        };
        startAt = mkOption {
          type = types.either types.str (types.listOf types.str);
          default = [ ];
        };
        restartIfChanged = mkOption {
          type = types.bool;
          default = true;
        };
      });
      default = { };
    };
    systemd.timers = mkOption {
      type = types.attrsOf (unit {
        timerConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
        };
      });
      default = { };
    };
    virtualisation.oci-containers = {
      backend = mkOption {
        type = types.enum [
          "podman"
          "docker"
        ];
        default = "podman";
      };
      containers = mkOption {
        type = types.attrsOf container;
        default = { };
      };
    };
    networking.wireless.interfaces = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    nix.settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
    };
    # What backup.nix reads of nixpkgs' nextcloud module, with its defaults.
    services.nextcloud = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options = {
          enable = mkOption {
            type = types.bool;
            default = false;
          };
          occ = mkOption {
            type = types.package;
            default = {
              type = "derivation";
              name = "nextcloud-occ";
              outPath = "/nix/store/00000000000000000000000000000000-nextcloud-occ";
            };
          };
          datadir = mkOption {
            type = types.str;
            default = "/var/lib/nextcloud";
          };
          secretFile = mkOption {
            type = types.nullOr types.str;
            default = null;
          };
          secrets = mkOption {
            type = types.attrsOf types.str;
            default = { };
          };
          config = mkOption {
            type = types.submodule {
              freeformType = types.attrsOf types.anything;
              options.dbpassFile = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
            };
            default = { };
          };
        };
      };
      default = { };
    };
    services.postgresql = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options.enable = mkOption {
          type = types.bool;
          default = false;
        };
        options.package = mkOption {
          type = types.package;
          default = pkgs.postgresql;
        };
      };
      default = { };
    };
    services.openldap = mkOption {
      type = enableable;
      default = { };
    };
    # sops-nix: each secret's path defaults to /run/secrets/<name>.
    sops.secrets = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            freeformType = types.attrsOf types.anything;
            options.path = mkOption {
              type = types.str;
              default = "/run/secrets/${name}";
            };
          }
        )
      );
      default = { };
    };
  };
}

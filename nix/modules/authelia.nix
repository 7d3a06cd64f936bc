# homey.authelia: access-control rules contributed by any module, sorted by priority, linted and rendered by
# authelia-rules when the system is built -- a rule Authelia would reject, or one that silently opens a service
# by shadowing a stricter one, fails nixos-rebuild with the tool's message.
#
#   homey.authelia.accessControlRules.grafana-admins = {
#     priority = 20; domain = "grafana.${domain}"; policy = "two_factor"; subject = [ "group:admins" ];
#   };
#   homey.authelia.container = "authelia";   # mounts the rendered rules into it, restarts it when they change
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;
  cfg = config.homey.authelia;
  json = pkgs.formats.json { };
  tool = config.homey.package;

  rule = types.submodule {
    # Authelia's rule fields (domain, domain_regex, subject, networks, resources, query, methods) pass through
    # as written; single strings are fine where Authelia takes lists.
    freeformType = json.type;
    options = {
      priority = mkOption {
        type = types.int;
        description = ''
          Lower comes first; Authelia stops at the first match. The homelab's bands: 0 bypass, 10-19 blanket
          bypass, 20-49 admin two_factor + deny pairs, 50-64 one_factor open, 65-79 per-path rules
          (lint warns when a rule sits in a band that does not fit it).
        '';
      };
      policy = mkOption {
        type = types.enum [
          "bypass"
          "one_factor"
          "two_factor"
          "deny"
        ];
        description = "What the request needs when this rule matches.";
      };
    };
  };

  # Rules keep their attribute names (authelia-rules takes a name-keyed object and breaks priority ties by
  # name), so the output never depends on the order modules were listed in.
  rulesFile = json.generate "authelia-rules.json" {
    default_policy = cfg.defaultPolicy;
    inherit (cfg) networks;
    rules = lib.mapAttrs (_: lib.filterAttrs (_: v: v != null)) cfg.accessControlRules;
  };

  renderedRules = pkgs.runCommand "authelia-access-control.yml" { nativeBuildInputs = [ tool ]; } ''
    # Warnings (exit 3) show in the build log; errors, or warnings with strict, fail the build.
    status=0
    authelia-rules lint ${lib.optionalString cfg.strict "--strict "}${rulesFile} || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then exit "$status"; fi
    authelia-rules render ${rulesFile} -o $out
  '';

  # "${file}" copies a path literal into the store, so the build sandbox can read it; a string that is not a
  # store path names a file the sandbox cannot see, and the assertion below refuses it.
  hashFileInStore = file: builtins.isPath file || lib.hasPrefix builtins.storeDir (toString file);
  hashFiles = map (file: "${file}") cfg.hashFiles;

  configHashEnvFile = pkgs.runCommand "authelia-config-hash.env" { nativeBuildInputs = [ tool ]; } ''
    hash=$(authelia-rules hash ${renderedRules} ${lib.escapeShellArgs hashFiles})
    if ! [[ $hash =~ ^[0-9a-f]{64}$ ]]; then
      echo "authelia-rules hash printed '$hash', not a SHA-256" >&2
      exit 1
    fi
    echo "NIXOS_CONFIG_HASH=$hash" > $out
  '';
in
{
  # Declared unconditionally so any module can contribute rules, even on a host without Authelia.
  options.homey.authelia = {
    accessControlRules = mkOption {
      type = types.attrsOf rule;
      default = { };
      description = "Authelia access-control rules by name, each with a priority.";
    };
    defaultPolicy = mkOption {
      type = types.enum [
        "bypass"
        "one_factor"
        "two_factor"
        "deny"
      ];
      default = "deny";
      description = "The policy when no rule matches.";
    };
    networks = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            name = mkOption {
              type = types.str;
              description = "The name rules use in their `networks` field.";
            };
            networks = mkOption {
              type = types.listOf types.str;
              description = "Addresses and CIDR ranges (IPv4 or IPv6) the name stands for.";
            };
          };
        }
      );
      default = [ ];
      example = [
        {
          name = "internal";
          networks = [ "192.168.1.0/24" ];
        }
      ];
      description = "Named networks the rules may refer to.";
    };
    strict = mkOption {
      type = types.bool;
      default = false;
      description = "Fail the build on lint warnings too (authelia-rules lint --strict).";
    };
    hashFiles = mkOption {
      type = types.listOf types.path;
      default = [ ];
      example = lib.literalExpression "[ ./authelia/configuration.yml ]";
      description = ''
        Other files of Authelia's configuration whose change must restart it too (hashed after the rules). Path
        literals (`./configuration.yml`) or store paths (`pkgs.writeText …`): they are hashed while the system is
        built, where a path like `/etc/authelia/configuration.yml` cannot be read.
      '';
    };
    container = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "authelia";
      description = ''
        The `virtualisation.oci-containers.containers` entry running Authelia (declare it yourself). The rendered
        rules are mounted into it read-only at `rulesMountPoint` and added to `X_AUTHELIA_CONFIG` after
        `configFiles`, so the rules that were linted are the rules that run; NIXOS_CONFIG_HASH comes through an
        environment file, so a change to the rules (or hashFiles) restarts it (a bind-mounted file is resolved at
        container start: a running container would keep the old rules).
      '';
    };
    configFiles = mkOption {
      type = types.listOf types.str;
      default = [ "/config/configuration.yml" ];
      description = ''
        Authelia's own configuration files, as paths inside the container, loaded before the rendered rules
        (`X_AUTHELIA_CONFIG`; later files are merged over earlier ones). Leave `access_control` out of them.
      '';
    };
    rulesMountPoint = mkOption {
      type = types.str;
      default = "/config/homey-access-control.yml";
      description = "Where the rendered rules appear inside the container (read-only).";
    };

    rulesFile = mkOption {
      type = types.path;
      readOnly = true;
      default = rulesFile;
      defaultText = lib.literalMD "the rules as JSON in the Nix store";
      description = "The rules as authelia-rules reads them (for `authelia-rules explain` by hand).";
    };
    renderedRules = mkOption {
      type = types.path;
      readOnly = true;
      default = renderedRules;
      defaultText = lib.literalMD "the rendered `access_control:` section";
      description = "Authelia's `access_control:` section (YAML), rendered and linted at build time.";
    };
    configHashEnvFile = mkOption {
      type = types.path;
      readOnly = true;
      default = configHashEnvFile;
      defaultText = lib.literalMD "a file with one line, `NIXOS_CONFIG_HASH=<sha256>`";
      description = "An environment file carrying the rendered configuration's hash as NIXOS_CONFIG_HASH.";
    };
  };

  config = lib.mkMerge [
    # Lint whenever there are rules, so a bad rule fails the build even where only the file is referenced.
    (lib.mkIf (cfg.accessControlRules != { }) { system.checks = [ renderedRules ]; })
    {
      assertions = map (file: {
        assertion = hashFileInStore file;
        message = "homey.authelia.hashFiles: ${toString file} is neither a path literal (./file) nor a store path; the build that hashes it cannot read it.";
      }) cfg.hashFiles;
    }
    (lib.mkIf (cfg.container != null) (
      let
        containers = config.virtualisation.oci-containers.containers;
        # This module defines the entry itself (volumes, environment), so it always exists; only an image
        # says that someone declared the container. NixOS throws when an option without a value is read.
        declared = (builtins.tryEval (containers.${cfg.container}.image or (throw "no image"))).success;
      in
      {
        assertions = [
          {
            assertion = declared;
            message = "homey.authelia.container is \"${cfg.container}\", but virtualisation.oci-containers.containers.${cfg.container} is not declared (with an image): declare Authelia's container there, or set homey.authelia.container to its name.";
          }
          {
            # --config on the command line makes Authelia ignore X_AUTHELIA_CONFIG, and with it the rules.
            assertion = !(lib.any (a: a == "--config" || a == "-c" || lib.hasPrefix "--config=" a) (containers.${cfg.container}.cmd or [ ]));
            message = "virtualisation.oci-containers.containers.${cfg.container}.cmd passes --config, which makes Authelia ignore X_AUTHELIA_CONFIG and the rendered rules: list your files in homey.authelia.configFiles instead.";
          }
        ];
        virtualisation.oci-containers.containers.${cfg.container} = {
          environmentFiles = [ configHashEnvFile ];
          environment.X_AUTHELIA_CONFIG = lib.concatStringsSep "," (cfg.configFiles ++ [ cfg.rulesMountPoint ]);
          volumes = [ "${renderedRules}:${cfg.rulesMountPoint}:ro" ];
        };
      }
    ))
  ];
}

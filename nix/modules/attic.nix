# homey.attic: Attic's runtime server config with the JWT secret put in at start (server), and the netrc that
# lets the Nix daemon pull from the cache (client) -- both by attic-token, both files only under /run.
#
#   homey.attic.server = {
#     enable = true;
#     settings = { listen = "[::]:8080"; api-endpoint = "https://attic.${domain}/"; database.url = "sqlite:///var/lib/atticd/server.db?mode=rwc";
#                  storage = { type = "local"; path = "/var/lib/atticd/storage"; };
#                  chunking = { nar-size-threshold = 65536; min-size = 16384; avg-size = 65536; max-size = 262144; }; };
#     secretFile = config.sops.secrets."attic/jwt-secret".path;
#     container = "attic";   # mounts homey.attic.server.configFile yourself: volumes = [ "${config.homey.attic.server.configFile}:/attic/server.toml:ro" ]
#   };
#   homey.attic.client = { enable = true; endpoint = "https://attic.${domain}/main"; publicKey = "main:..."; tokenFile = ...; };
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:

let
  inherit (lib) mkOption types;
  cfg = config.homey.attic;
  # A path as a string, outside the store: a path literal would be copied into the store by "${...}".
  secretFile = types.pathWith { inStore = false; absolute = true; };
  toml = pkgs.formats.toml { };
  sandbox = (import ../hardening.nix).units;
  attic-token = "${config.homey.package}/bin/attic-token";

  serverDir = "homey-attic";
  serverConfig = "/run/${serverDir}/attic-config.toml";
  netrcDir = "homey-attic-netrc";
  netrcFile = "/run/${netrcDir}/netrc";

  template = if cfg.server.template != null then cfg.server.template else toml.generate "attic-server.toml" cfg.server.settings;

  # The template checked at build time with a throw-away secret: keys Attic does not have (such as a [store]
  # section), missing sections or impossible chunk sizes fail nixos-rebuild with attic-token's message.
  templateChecked = pkgs.runCommand "attic-template-checked" { nativeBuildInputs = [ config.homey.package ]; } ''
    attic-token keygen --algorithm hs256 --out throwaway-secret
    attic-token render-config --template ${template} --out rendered.toml --secret-file throwaway-secret
    touch $out
  '';

  # Host for the netrc: the endpoint's host name, without scheme, port or path (what Nix looks up); null when
  # the endpoint is no http(s) URL, which an assertion reports.
  clientHostMatch = builtins.match "https?://([^/:]+).*" cfg.client.endpoint;
  clientHost = if clientHostMatch == null then "invalid" else builtins.head clientHostMatch;

  oneshot = {
    Type = "oneshot";
    # Active while the file is in use; stopping the unit removes its runtime directory and the file with it.
    RemainAfterExit = true;
    RuntimeDirectoryMode = "0700";
  };

  # NixOS names the container's unit after `serviceName` where it has that option, else <backend>-<name>.
  containerUnit =
    config.virtualisation.oci-containers.containers.${cfg.server.container}.serviceName
      or "${config.virtualisation.oci-containers.backend}-${cfg.server.container}";
  # NixOS throws when an option without a value (an undeclared container's image) is read.
  containerDeclared =
    (builtins.tryEval (config.virtualisation.oci-containers.containers.${cfg.server.container}.image or (throw "no image")))
    .success;
in
{
  options.homey.attic = {
    server = {
      enable = lib.mkEnableOption "rendering Attic's runtime config from a template and the JWT secret (attic-token render-config)";
      settings = mkOption {
        type = toml.type;
        default = { };
        description = "Attic's server.toml without the secret (ignored when template is set).";
      };
      template = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "A server.toml template file, instead of settings (comments and layout are kept).";
      };
      secretFile = mkOption {
        type = secretFile;
        example = "/run/secrets/attic/jwt-secret";
        description = "File with the JWT signing secret in the base64 form Attic reads (HS256 or RS256); handed over with LoadCredential=.";
      };
      container = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "attic";
        description = "The `virtualisation.oci-containers.containers` entry running atticd (declare it yourself, mounting `configFile`): it then requires the rendered config and restarts with it.";
      };
      configFile = mkOption {
        type = types.str;
        readOnly = true;
        default = serverConfig;
        description = "Where the rendered config is (mode 0600; it exists while attic-config.service is active).";
      };
    };

    client = {
      enable = lib.mkEnableOption "the Nix daemon pulling from the Attic cache with a token (attic-token netrc)";
      endpoint = mkOption {
        type = types.str;
        example = "https://attic.example.com/main";
        description = "The cache's substituter URL.";
      };
      publicKey = mkOption {
        type = types.str;
        example = "main:9SZt...=";
        description = "The cache's public key, for trusted-public-keys.";
      };
      tokenFile = mkOption {
        type = secretFile;
        example = "/run/secrets/attic/pull-token";
        description = "File with an Attic token allowed to pull; handed over with LoadCredential=.";
      };
    };
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.server.enable {
      assertions = [
        {
          assertion = cfg.server.container == null || containerDeclared;
          message = "homey.attic.server.container is \"${toString cfg.server.container}\", but virtualisation.oci-containers.containers.${toString cfg.server.container} is not declared (with an image): declare atticd's container there, or set homey.attic.server.container to its name (null when atticd is no container).";
        }
      ];
      homey.credentials.attic-token-secret = cfg.server.secretFile;
      system.checks = [ templateChecked ];

      systemd.services = {
        attic-config = {
          description = "Render Attic's runtime config (attic-token render-config)";
          documentation = [ "man:attic-token(1)" ];
          wantedBy = [ "multi-user.target" ];
          serviceConfig = sandbox.attic-config // oneshot // {
            RuntimeDirectory = serverDir;
            LoadCredential = [ "attic-token-secret:${cfg.server.secretFile}" ];
            # %d (the credentials directory) is left for systemd to expand, so it is outside the escaped part.
            ExecStart = "${
              utils.escapeSystemdExecArgs [
                attic-token
                "render-config"
                "--template"
                "${template}"
                "--out"
                serverConfig
              ]
            } --secret-file %d/attic-token-secret";
          };
        };
      }
      # Requires= also restarts the container when the config is rendered anew. Only for a declared container:
      # ordering an undeclared one would create a podman-NAME.service with no ExecStart.
      // lib.optionalAttrs (cfg.server.container != null && containerDeclared) {
        ${containerUnit} = {
          requires = [ "attic-config.service" ];
          after = [ "attic-config.service" ];
        };
      };
    })

    (lib.mkIf cfg.client.enable {
      assertions = [
        {
          assertion = clientHostMatch != null;
          message = "homey.attic.client.endpoint must be an http(s) URL such as https://attic.example.com/main, got \"${cfg.client.endpoint}\".";
        }
      ];
      homey.credentials.attic-token = cfg.client.tokenFile;

      systemd.services.attic-netrc = {
        description = "Netrc for the Nix daemon to pull from Attic (attic-token netrc)";
        documentation = [ "man:attic-token(1)" ];
        wantedBy = [ "multi-user.target" ];
        before = [ "nix-daemon.service" ];
        serviceConfig = sandbox.attic-netrc // oneshot // {
          RuntimeDirectory = netrcDir;
          LoadCredential = [ "attic-token:${cfg.client.tokenFile}" ];
          ExecStart = "${
            utils.escapeSystemdExecArgs [
              attic-token
              "netrc"
              "--host"
              clientHost
              "--out"
              netrcFile
            ]
          } --token-file %d/attic-token";
        };
      };

      nix.settings = {
        netrc-file = lib.mkDefault netrcFile;
        substituters = [ cfg.client.endpoint ];
        trusted-public-keys = [ cfg.client.publicKey ];
      };
    })
  ];
}

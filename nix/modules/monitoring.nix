# homey.monitoring: the monitors any module declares, synced into Uptime Kuma by kuma-sync after its container.
#
#   homey.monitoring.monitors = [ { name = "Nextcloud"; url = "https://cloud.${domain}/status.php"; keyword = "installed"; } ];
#   homey.monitoring.kumaSync = { enable = true; username = "admin"; passwordFile = config.sops.secrets."kuma/password".path; };
#   # A push monitor's token is a secret: name a credential, hand the file over here.
#   homey.monitoring.monitors = [ { name = "Nightly backup"; type = "push"; push_token_credential = "nightly-backup-push"; } ];
#   homey.monitoring.kumaSync.credentials.nightly-backup-push = config.sops.secrets."kuma/backup-push".path;
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:

let
  inherit (lib) mkOption types;
  cfg = config.homey.monitoring;
  sync = cfg.kumaSync;
  # A path as a string, outside the store: a path literal would be copied into the store by "${...}".
  secretFile = types.pathWith {
    inStore = false;
    absolute = true;
  };
  json = pkgs.formats.json { };
  sandbox = (import ../hardening.nix).units.kuma-sync;
  containers = config.virtualisation.oci-containers.containers or { };
  containerUnit = "${config.virtualisation.oci-containers.backend}-${toString sync.container}.service";

  # Credentials the monitors name (push_token_credential), each of which kumaSync.credentials must provide.
  namedCredentials = builtins.foldl' (acc: n: if builtins.elem n acc then acc else acc ++ [ n ]) [ ] (
    lib.concatMap (m: lib.optional ((m.push_token_credential or null) != null) m.push_token_credential) cfg.monitors
    ++ lib.concatMap (n: builtins.attrValues (n.secrets or { })) cfg.notifications
  );
  missingCredentials = lib.filter (n: !(sync.credentials ? ${n})) namedCredentials;
  literalPushTokens = map (m: m.name) (lib.filter (m: (m.push_token or null) != null) cfg.monitors);

  monitor = types.submodule {
    # The five fields of the seed format are typed here; every other field kuma-sync knows (type, hostname,
    # port, accepted_status_codes, tags, notifications, parent, ...) passes through as written, and kuma-sync
    # validate checks the whole file when the system is built.
    freeformType = json.type;
    options = {
      name = mkOption {
        type = types.str;
        description = "The monitor's name: unique, and its identity in Uptime Kuma.";
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "What to check (http, keyword and json-query monitors).";
      };
      interval = mkOption {
        type = types.ints.between 20 2073600;
        default = 60;
        description = "Seconds between checks.";
      };
      keyword = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Text the page must contain; makes it a keyword monitor.";
      };
      maxretries = mkOption {
        type = types.ints.unsigned;
        default = 0;
        description = "Failed checks before the monitor goes down.";
      };
    };
  };

  # A maintenance window: every field kuma-sync knows passes through as written (snake_case, like the
  # monitors file); the status pages that show it are typed, so the option reference describes them.
  maintenanceWindow = types.submodule {
    freeformType = json.type;
    options = {
      statusPages = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        example = [ "home" ];
        description = ''
          The status pages that show this window, by slug: pages of homey.monitoring.statusPages, or pages
          already on the server (else kuma-sync refuses the file). Rendered as `status_pages`. null leaves the
          pages picked in Uptime Kuma's web UI alone; [ ] takes the window off every page.
        '';
      };
    };
  };

  # null means "not managed", which kuma-sync reads from an absent key, not from a null.
  maintenanceOf =
    w:
    removeAttrs w [ "statusPages" ] // lib.optionalAttrs (w.statusPages != null) { status_pages = w.statusPages; };

  # Unset fields are left out rather than written as null, so the file stays in the seed format.
  # A bare array while only monitors are declared (the seed's format); the object form once there is more.
  monitorsOnly = cfg.notifications == [ ] && cfg.statusPages == [ ] && cfg.dockerHosts == [ ] && cfg.maintenance == [ ];
  monitorsFile = json.generate "monitors.json" (
    let
      monitors = map (lib.filterAttrs (_: v: v != null)) cfg.monitors;
    in
    if monitorsOnly then
      monitors
    else
      {
        inherit monitors;
        inherit (cfg) notifications;
        status_pages = cfg.statusPages;
        docker_hosts = cfg.dockerHosts;
        maintenance = map maintenanceOf cfg.maintenance;
      }
  );

  # Only a loopback Kuma keeps the unit's loopback-only IP allow list.
  # (POSIX ERE: brackets are matched as [[] and []], not escaped.)
  isLoopback = builtins.match "https?://(127[.][0-9.]+|localhost|[[]::1[]])(:[0-9]+)?(/.*)?" sync.url != null;

  validated = pkgs.runCommand "kuma-monitors-validated" { nativeBuildInputs = [ config.homey.package ]; } ''
    kuma-sync validate ${monitorsFile}
    touch $out
  '';
in
{
  # Declared whether or not kuma-sync is enabled, so any module can add monitors.
  options.homey.monitoring = {
    monitors = mkOption {
      type = types.listOf monitor;
      default = [ ];
      description = "Uptime Kuma monitors, in kuma-sync's monitors format (snake_case fields).";
    };

    notifications = mkOption {
      type = types.listOf json.type;
      default = [ ];
      example = lib.literalExpression ''
        [ { name = "ntfy"; type = "ntfy"; default = true;
            settings = { ntfyserverurl = "https://ntfy.sh"; ntfytopic = "homelab"; };
            secrets = { ntfyaccesstoken = "ntfy-token"; }; } ]
      '';
      description = ''
        Uptime Kuma notifications, in kuma-sync's format (name, type, default, apply_existing, settings, secrets).
        `secrets` maps a setting to a credential name; give each credential's file in
        homey.monitoring.kumaSync.credentials, so no secret reaches the Nix store.
      '';
    };

    statusPages = mkOption {
      type = types.listOf json.type;
      default = [ ];
      example = lib.literalExpression ''
        [ { slug = "home"; title = "Home lab"; groups = [ { name = "Services"; monitors = [ "Nextcloud" ]; } ]; } ]
      '';
      description = "Uptime Kuma status pages, in kuma-sync's format (slug, title, description, footer_text, custom_css, show_tags, show_powered_by, show_certificate_expiry, groups of monitors by name).";
    };

    maintenance = mkOption {
      type = types.listOf maintenanceWindow;
      default = [ ];
      example = lib.literalExpression ''
        [ { title = "Nightly backup"; strategy = "recurring-weekday"; weekdays = [ 1 2 3 4 5 6 7 ];
            start_time = "03:00"; end_time = "03:45"; monitors = [ "Nextcloud" ]; statusPages = [ "home" ]; } ]
      '';
      description = "Uptime Kuma maintenance windows, in kuma-sync's format (title, description, strategy manual/single/recurring-interval/recurring-weekday/recurring-day-of-month/cron, their dates and times, timezone, monitors by name), and the status pages that show them (statusPages).";
    };

    dockerHosts = mkOption {
      type = types.listOf json.type;
      default = [ ];
      example = lib.literalExpression ''[ { name = "podman"; type = "socket"; daemon = "/run/podman/podman.sock"; } ]'';
      description = "Docker hosts for `docker` monitors (name, type socket or tcp, daemon), in kuma-sync's format.";
    };

    monitorsFile = mkOption {
      type = types.path;
      readOnly = true;
      default = monitorsFile;
      defaultText = lib.literalMD "the monitors as JSON in the Nix store";
      description = "The rendered monitors file kuma-sync reads.";
    };

    kumaSync = {
      enable = lib.mkEnableOption "kuma-sync, which makes Uptime Kuma's monitors match homey.monitoring.monitors";
      url = mkOption {
        type = types.str;
        default = "http://127.0.0.1:3001";
        description = "Uptime Kuma's URL. Anything but loopback lifts the unit's loopback-only IP allow list.";
      };
      username = mkOption {
        type = types.str;
        description = "The Uptime Kuma user kuma-sync logs in as.";
      };
      passwordFile = mkOption {
        type = secretFile;
        example = "/run/secrets/kuma/password";
        description = "File holding that user's password (e.g. a sops secret). Handed to the unit with LoadCredential=; never copied to the store.";
      };
      container = mkOption {
        type = types.nullOr types.str;
        default = "uptime-kuma";
        example = "kuma";
        description = ''
          The virtualisation.oci-containers container running Uptime Kuma: kuma-sync starts after its unit and
          again whenever it restarts. null when Uptime Kuma runs otherwise (e.g. services.uptime-kuma): then
          list its units in `after`.
        '';
      };
      after = mkOption {
        type = types.listOf types.str;
        default = lib.optional (sync.container != null) containerUnit;
        defaultText = lib.literalExpression ''lib.optional (container != null) "''${config.virtualisation.oci-containers.backend}-''${container}.service"'';
        description = "The units that run Uptime Kuma: kuma-sync starts after them, and again whenever they restart.";
      };
      credentials = mkOption {
        type = types.attrsOf secretFile;
        default = { };
        example = lib.literalExpression ''{ nightly-backup-push = config.sops.secrets."kuma/backup-push".path; }'';
        description = ''
          Secret files for the credentials the monitors name (`push_token_credential`), by credential name. Each
          is handed to the unit with LoadCredential= and read by kuma-sync from $CREDENTIALS_DIRECTORY; never
          copied to the store. Run by hand, kuma-sync reads /etc/homey/credentials/NAME.
        '';
      };
      prune = mkOption {
        type = types.bool;
        default = true;
        description = "Delete monitors kuma-sync created earlier that are no longer declared (false passes --no-prune: they are kept and reported).";
      };
      setup = mkOption {
        type = types.bool;
        default = false;
        description = "On a fresh Uptime Kuma, create the admin user from username and passwordFile first (--setup).";
      };
      wait = mkOption {
        type = types.ints.positive;
        default = 120;
        description = "Seconds to keep retrying while Uptime Kuma is still starting (--wait).";
      };
    };
  };

  config = lib.mkIf sync.enable {
    assertions = [
      {
        # The default `after` orders kuma-sync after this container's unit; a container nobody declares
        # would leave it ordered after nothing and never restarted with Uptime Kuma.
        assertion = sync.container == null || containers ? ${sync.container} || !(builtins.elem containerUnit sync.after);
        message = "homey.monitoring.kumaSync.container is \"${toString sync.container}\", but virtualisation.oci-containers.containers has no such container; set homey.monitoring.kumaSync.container to the container that runs Uptime Kuma (or to null, listing its units in homey.monitoring.kumaSync.after).";
      }
      {
        assertion = missingCredentials == [ ];
        message = "homey.monitoring.monitors/notifications name the credential(s) ${builtins.concatStringsSep ", " missingCredentials} (push_token_credential, secrets) that homey.monitoring.kumaSync.credentials does not provide; set homey.monitoring.kumaSync.credentials.<name> to the secret file.";
      }
      {
        assertion = builtins.all (f: !lib.hasPrefix builtins.storeDir f) (builtins.attrValues sync.credentials);
        message = "homey.monitoring.kumaSync.credentials: a secret file is in the Nix store, where every user can read it; use a secret file (sops, agenix).";
      }
      {
        assertion = !lib.hasPrefix builtins.storeDir sync.passwordFile;
        message = "homey.monitoring.kumaSync.passwordFile is in the Nix store, where every user can read it; use a secret file (sops, agenix).";
      }
    ];

    # Run by hand, kuma-sync finds them at /etc/homey/credentials/NAME (nix/modules/credentials.nix).
    homey.credentials = {
      kuma-password = sync.passwordFile;
    }
    // sync.credentials;

    warnings = lib.optional (literalPushTokens != [ ]) "homey.monitoring.monitors: ${builtins.concatStringsSep ", " literalPushTokens} carry push_token in the Nix store (world-readable); name a credential instead (push_token_credential, with homey.monitoring.kumaSync.credentials.<name> = the secret file).";

    # A bad monitors file fails the build with kuma-sync's own message, before anything is deployed.
    system.checks = [ validated ];

    systemd.services.kuma-sync = {
      description = "Sync Uptime Kuma monitors (kuma-sync)";
      documentation = [ "man:kuma-sync(1)" ];
      after = [ "network-online.target" ] ++ sync.after;
      wants = [ "network-online.target" ];
      # Started with Uptime Kuma, and restarted with it; the hash gate makes a run with unchanged monitors a no-op.
      wantedBy = [ "multi-user.target" ] ++ sync.after;
      partOf = sync.after;
      environment = {
        KUMA_URL = sync.url;
        KUMA_USERNAME = sync.username;
      };
      serviceConfig =
        (if isLoopback then sandbox else builtins.removeAttrs sandbox [ "IPAddressDeny" "IPAddressAllow" ])
        // {
          Type = "oneshot";
          # Active after success, so a new monitors file (a new ExecStart) restarts it on switch.
          RemainAfterExit = true;
          ExecStart = utils.escapeSystemdExecArgs (
            [
              "${config.homey.package}/bin/kuma-sync"
              "sync"
              "--monitors"
              "${monitorsFile}"
              "--wait"
              (toString sync.wait)
            ]
            ++ lib.optional (!sync.prune) "--no-prune"
            ++ lib.optional sync.setup "--setup"
          );
          LoadCredential = [ "kuma-password:${sync.passwordFile}" ] ++ lib.mapAttrsToList (n: f: "${n}:${f}") sync.credentials;
          StateDirectory = "kuma-sync";
          StateDirectoryMode = "0700";
        };
    };
  };
}

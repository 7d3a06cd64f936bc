# homey.backup: the nightly restic backup by backup-hooks -- Nextcloud maintenance mode that always goes off
# again, PostgreSQL/SQLite/LDAP dumps, retention, a report -- on a timer at 03:00.
#
#   homey.backup = {
#     enable = true;
#     repository = "s3:https://s3.eu-central-003.backblazeb2.com/example-backup";
#     passwordFile = config.sops.secrets."restic/password".path;     # a path: the secret never enters the store
#     environmentFile = config.sops.secrets."restic/b2-env".path;   # AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...
#     paths = [ "/var/lib/nextcloud" ];
#     databases.postgres = [ { name = "nextcloud"; } ];
#   };
#   # any other module:
#   homey.backup.extraPaths = [ "/var/lib/authelia" ];
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:

let
  inherit (lib)
    mkOption
    types
    optionalAttrs
    optional
    ;
  cfg = config.homey.backup;
  toml = pkgs.formats.toml { };
  hardening = import ../hardening.nix;
  # Root only when the job must become another user or write beside a live SQLite file (hardening.nix says why).
  needsRoot = cfg.nextcloud.enable || lib.any (d: d.runAs != null) cfg.databases.postgres || cfg.databases.sqlite != [ ];
  sandbox = if needsRoot then hardening.units.backup else hardening.backupUnprivileged;
  nextcloud = config.services.nextcloud;
  postgresql = config.services.postgresql;

  unit = "backup";
  # The config names each secret by credential name, never by path: backup-hooks resolves a name as
  # $CREDENTIALS_DIRECTORY/NAME under systemd (backup.service and backup-offload.service each have their own
  # directory) and as /etc/homey/credentials/NAME by hand (restore-db), so one file serves all three.
  ldapCredential = entry: "ldap-${entry.name}";
  postgresCredential = entry: "postgres-${entry.name}";

  # A path as a string, outside the store: a path literal would be copied into the store by "${...}".
  secretFile = types.pathWith { inStore = false; absolute = true; };
  secretOption =
    description:
    mkOption {
      type = secretFile;
      example = "/run/secrets/restic/password";
      inherit description;
    };

  # Credential name -> secret file, for every secret the config names.
  secrets = lib.filterAttrs (_: path: path != null) (
    {
      restic-password = cfg.passwordFile;
      restic-env = cfg.environmentFile;
      backup-push-url = cfg.report.kumaPushUrlFile;
      offload-password = if cfg.offload != null then cfg.offload.passwordFile else null;
    }
    // lib.listToAttrs (map (d: lib.nameValuePair (ldapCredential d) d.bindPasswordFile) cfg.databases.ldap)
    // lib.listToAttrs (
      map (d: lib.nameValuePair (postgresCredential d) d.passwordFile) (
        lib.filter (d: d.passwordFile != null) cfg.databases.postgres
      )
    )
  );

  generated = lib.filterAttrsRecursive (_: v: v != null) (
    {
      state_dir = "/var/lib/backup-hooks";
      staging_dir = "/var/lib/backup-hooks/staging";
      repository = {
        url = cfg.repository;
        password_credential = "restic-password";
        environment_credential = if cfg.environmentFile != null then "restic-env" else null;
      };
      backup = {
        paths = cfg.paths ++ cfg.extraPaths;
        inherit (cfg) exclude tags;
      };
      retention = {
        keep_daily = cfg.retention.daily;
        keep_weekly = cfg.retention.weekly;
        keep_monthly = cfg.retention.monthly;
        keep_yearly = cfg.retention.yearly;
        inherit (cfg.retention) prune;
      };
      report = {
        kuma_push_url_credential = if cfg.report.kumaPushUrlFile != null then "backup-push-url" else null;
        textfile_dir = cfg.report.textfileDir;
      };
    }
    // optionalAttrs cfg.nextcloud.enable {
      nextcloud = { inherit (cfg.nextcloud) occ maintenance; };
    }
    // optionalAttrs (cfg.databases.postgres != [ ]) {
      # filterAttrsRecursive does not look into lists.
      postgres = map (
        d:
        lib.filterAttrs (_: v: v != null) {
          inherit (d) name database host;
          user = d.user;
          run_as = d.runAs;
          password_credential = if d.passwordFile != null then postgresCredential d else null;
        }
      ) cfg.databases.postgres;
    }
    // optionalAttrs (cfg.databases.sqlite != [ ]) {
      sqlite = map (d: { inherit (d) name path; }) cfg.databases.sqlite;
    }
    // optionalAttrs (cfg.databases.ldap != [ ]) {
      ldap = map (d: {
        inherit (d) name url;
        base_dn = d.baseDn;
        bind_dn = d.bindDn;
        bind_password_credential = ldapCredential d;
      }) cfg.databases.ldap;
    }
    // optionalAttrs (cfg.check.readDataSubset != null) {
      check.read_data_subset = cfg.check.readDataSubset;
    }
    // optionalAttrs (cfg.offload != null) {
      offload = {
        inherit (cfg.offload) repository;
        password_credential = "offload-password";
      };
    }
  );

  configFile = toml.generate "backup-hooks.toml" (lib.recursiveUpdate generated cfg.settings);

  # backup-hooks checks every secret its config names when it loads it, so each unit gets all of them.
  credentials = lib.mapAttrsToList (name: path: "${name}:${path}") secrets;

  # NixOS's nextcloud-occ, run from a unit that has $CREDENTIALS_DIRECTORY (ours), reads the secrets of
  # Nextcloud's config.php from that directory: the unit must carry them under Nextcloud's names, or occ fails.
  # Mirrors the credential list of nixpkgs' nextcloud module; an option that does not exist there counts as unset.
  nextcloudCredentials =
    let
      c = nextcloud.config or { };
      s3 = c.objectstore.s3 or { };
      file = name: path: optional (path != null) "${name}:${path}";
    in
    lib.optionals (cfg.nextcloud.enable && nextcloud.enable) (
      file "dbpass" (c.dbpassFile or null)
      ++ lib.optionals (s3.enable or false) (file "s3_secret" (s3.secretFile or null))
      ++ file "s3_sse_c_key" (s3.sseCKeyFile or null)
      ++ file "secret_file" (nextcloud.secretFile or null)
      ++ lib.mapAttrsToList (name: path: "${name}:${path}") (nextcloud.secrets or { })
    );

  # pg_dump must not be older than the server it dumps.
  pgPackage = if postgresql.enable then postgresql.package else pkgs.postgresql;

  backupHooks = "${config.homey.package}/bin/backup-hooks";

  sandboxFor =
    extraWritable:
    sandbox
    // {
      ReadWritePaths =
        optional cfg.nextcloud.enable "-${cfg.nextcloud.configDir}"
        ++ optional (cfg.report.textfileDir != null) "-${cfg.report.textfileDir}"
        # A live SQLite database in WAL mode is read through its -shm/-wal files, which the reader may
        # have to create or update: its directory stays writable.
        ++ map (d: "-${builtins.dirOf d.path}") cfg.databases.sqlite
        ++ cfg.readWritePaths
        ++ extraWritable;
      LoadCredential = credentials ++ nextcloudCredentials;
      StateDirectory = "backup-hooks";
      StateDirectoryMode = "0700";
      CacheDirectory = "backup-hooks";
      CacheDirectoryMode = "0700";
    };

  commonUnit = {
    after = [ "network-online.target" ] ++ optional postgresql.enable "postgresql.service" ++ optional config.services.openldap.enable "openldap.service";
    wants = [ "network-online.target" ];
    # runuser (util-linux) runs pg_dump as the database's system user.
    path = [ pkgs.restic ] ++ lib.optionals (cfg.databases.postgres != [ ]) [
      pgPackage
      pkgs.util-linux
    ];
  };
in
{
  options.homey.backup = {
    enable = lib.mkEnableOption "the nightly restic backup by backup-hooks";

    repository = mkOption {
      type = types.str;
      example = "s3:https://s3.eu-central-003.backblazeb2.com/example-backup";
      description = "The restic repository.";
    };
    passwordFile = secretOption "File with the repository password (a secret file, handed over with LoadCredential=).";
    environmentFile = mkOption {
      type = types.nullOr secretFile;
      default = null;
      description = "File with the backend's keys as VAR=value lines (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or B2_*); read by backup-hooks, never put in the unit's environment.";
    };

    paths = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "What to back up. The staging directory with the database dumps is added by backup-hooks.";
    };
    extraPaths = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More paths, for other modules to add theirs (declared even when the backup is disabled).";
    };
    exclude = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "/mnt/data/attic"
        "/mnt/data/media"
      ];
      description = "restic --exclude patterns.";
    };
    tags = mkOption {
      type = types.listOf types.str;
      default = [ "nightly" ];
      description = "Tags on each snapshot.";
    };

    nextcloud = {
      enable = mkOption {
        type = types.bool;
        default = nextcloud.enable;
        defaultText = lib.literalExpression "config.services.nextcloud.enable";
        description = "Put Nextcloud in maintenance mode for the backup (and always take it out again).";
      };
      occ = mkOption {
        type = types.str;
        default = if nextcloud.enable then "${nextcloud.occ}/bin/nextcloud-occ" else "nextcloud-occ";
        defaultText = lib.literalExpression ''"''${config.services.nextcloud.occ}/bin/nextcloud-occ"'';
        description = "The occ command.";
      };
      configDir = mkOption {
        type = types.str;
        default = if nextcloud.enable then "${nextcloud.datadir}/config" else "/var/lib/nextcloud/config";
        defaultText = lib.literalExpression ''"''${config.services.nextcloud.datadir}/config"'';
        description = "Nextcloud's config directory: occ maintenance:mode writes config.php there, so the sandbox lets it.";
      };
      maintenance = mkOption {
        type = types.enum [
          "whole-backup"
          "dumps-only"
        ];
        default = "whole-backup";
        description = "Keep maintenance mode on for the whole backup, or only while the databases are dumped.";
      };
    };

    databases = {
      postgres = mkOption {
        type = types.listOf (
          types.submodule (
            { config, ... }:
            {
              options = {
                name = mkOption {
                  type = types.str;
                  description = "The dump's name (restore-db NAME).";
                };
                database = mkOption {
                  type = types.str;
                  default = config.name;
                  defaultText = lib.literalExpression "name";
                  description = "The database to dump.";
                };
                host = mkOption {
                  type = types.str;
                  default = "/run/postgresql";
                  description = "Host or socket directory.";
                };
                user = mkOption {
                  type = types.nullOr types.str;
                  default = null;
                  description = "The database user pg_dump connects as; unset, the system user it runs as.";
                };
                runAs = mkOption {
                  type = types.nullOr types.str;
                  default = "postgres";
                  description = ''
                    Run pg_dump as this system user (runuser), for peer authentication over the socket without a
                    password; this keeps the unit root. null runs pg_dump as the unit's own user, `backup-hooks`
                    when nothing else needs root: give that role read access (`GRANT pg_read_all_data TO
                    "backup-hooks"`, PostgreSQL 14 and later) and the unit drops root.
                  '';
                };
                passwordFile = mkOption {
                  type = types.nullOr secretFile;
                  default = null;
                  example = "/run/secrets/postgres/backup";
                  description = "File with the database user's password, for a server that asks for one (handed over with LoadCredential=; PGPASSWORD never reaches argv).";
                };
              };
            }
          )
        );
        default = [ ];
        description = "PostgreSQL databases dumped with pg_dump -Fc before the backup.";
      };
      sqlite = mkOption {
        type = types.listOf (
          types.submodule {
            options = {
              name = mkOption {
                type = types.str;
                description = "The copy's name in the staging directory.";
              };
              path = mkOption {
                type = types.str;
                description = "The live database file (its directory stays writable to the unit: WAL mode).";
              };
            };
          }
        );
        default = [ ];
        example = [
          {
            name = "uptime-kuma";
            path = "/var/lib/uptime-kuma/kuma.db";
          }
        ];
        description = "SQLite databases copied consistently (online backup API) before the backup.";
      };
      ldap = mkOption {
        type = types.listOf (
          types.submodule {
            options = {
              name = mkOption {
                type = types.str;
                description = "The export's name in the staging directory.";
              };
              url = mkOption {
                type = types.str;
                default = "ldap://127.0.0.1:389";
                description = "The directory server.";
              };
              baseDn = mkOption {
                type = types.str;
                example = "dc=example,dc=com";
                description = "Everything under this DN is exported.";
              };
              bindDn = mkOption {
                type = types.str;
                example = "cn=admin,dc=example,dc=com";
                description = "The DN to bind as (it must be able to read the whole tree).";
              };
              bindPasswordFile = mkOption {
                type = secretFile;
                example = "/run/secrets/ldap/admin-password";
                description = "File with the bind password; handed over with LoadCredential=.";
              };
            };
          }
        );
        default = [ ];
        description = "LDAP directories exported as LDIF before the backup.";
      };
    };


    retention = {
      daily = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = 7;
        description = "Daily snapshots kept (restic forget --keep-daily); null keeps none by this rule.";
      };
      weekly = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = 4;
        description = "Weekly snapshots kept (--keep-weekly).";
      };
      monthly = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = 12;
        description = "Monthly snapshots kept (--keep-monthly).";
      };
      yearly = mkOption {
        type = types.nullOr types.ints.unsigned;
        default = null;
        description = "Yearly snapshots kept (--keep-yearly).";
      };
      prune = mkOption {
        type = types.bool;
        default = true;
        description = "forget --prune after a successful backup (a failed backup never prunes).";
      };
    };

    check.readDataSubset = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "5%";
      description = "After the backup, restic check --read-data-subset (downloads that much of the repository).";
    };

    offload = mkOption {
      type = types.nullOr (
        types.submodule {
          options = {
            repository = mkOption {
              type = types.str;
              example = "/mnt/usb/restic";
              description = "The second repository (restic copy's destination); the unit may write there.";
            };
            passwordFile = secretOption "File with the offload repository's password.";
          };
        }
      );
      default = null;
      description = "A second repository (a local disk) for `systemctl start backup-offload` (restic copy).";
    };

    report = {
      kumaPushUrlFile = mkOption {
        type = types.nullOr secretFile;
        default = null;
        example = "/run/secrets/backup/kuma-push-url";
        description = ''
          File with the Uptime Kuma push URL (`https://status.example.com/api/push/<token>`) told up or down
          after each run. The token in it is a secret, so the URL is handed over with LoadCredential= like the
          others and never enters the Nix store or /etc/backup-hooks/backup.toml.
        '';
      };
      textfileDir = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/prometheus-node-exporter/textfile";
        description = "node_exporter textfile collector directory for the run's metrics.";
      };
    };

    startAt = mkOption {
      type = types.str;
      default = "*-*-* 03:00:00";
      description = "When the backup runs (systemd calendar). A run missed while the Pi was off starts at boot.";
    };
    timeout = mkOption {
      type = types.str;
      default = "8h";
      description = "After this, systemd stops the run; backup-hooks takes Nextcloud out of maintenance mode as it exits.";
    };
    readWritePaths = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More paths the run may write (the file system is otherwise read-only to it).";
    };

    settings = mkOption {
      type = toml.type;
      default = { };
      example = {
        backup.exclude_caches = true;
      };
      description = ''
        More backup-hooks.toml settings, merged over the ones the options above generate (for keys they do not
        cover). Name secrets by credential (`*_credential`) and add them to `homey.credentials`, never by value.
      '';
    };

    configFile = mkOption {
      type = types.path;
      readOnly = true;
      default = configFile;
      defaultText = lib.literalMD "the rendered backup-hooks.toml";
      description = "The backup-hooks config; also at /etc/backup-hooks/backup.toml, backup-hooks' default, for `backup-hooks status` by hand.";
    };
  };

  config = lib.mkIf cfg.enable {
    homey.credentials = secrets;

    # backup-hooks' default config path, so `backup-hooks status` or `restore-db` by hand needs no --config;
    # it names credentials only, which by hand resolve through /etc/homey/credentials.
    environment.etc."backup-hooks/backup.toml".source = configFile;

    systemd.services.${unit} = commonUnit // {
      description = "Nightly restic backup (backup-hooks)";
      documentation = [ "man:backup-hooks(1)" ];
      startAt = cfg.startAt;
      # A deploy while the backup runs must not stop it halfway (and start it again).
      restartIfChanged = false;
      serviceConfig = sandboxFor [ ] // {
        Type = "oneshot";
        ExecStart = utils.escapeSystemdExecArgs [
          backupHooks
          "run"
          "--config"
          "${configFile}"
        ];
        # The backstop: however the run ended (killed, timed out, crashed), maintenance mode goes off.
        ExecStopPost = utils.escapeSystemdExecArgs [
          backupHooks
          "post"
          "--config"
          "${configFile}"
        ];
        # 3: a snapshot was saved but some files could not be read -- a warning in the status, the metrics and
        # Kuma, not a failed unit.
        SuccessExitStatus = [ 3 ];
        TimeoutStartSec = cfg.timeout;
        TimeoutStopSec = "5min";
      };
    };

    systemd.timers.${unit}.timerConfig = {
      Persistent = true;
      AccuracySec = "1min";
    };

    systemd.services."${unit}-offload" = lib.mkIf (cfg.offload != null) (
      commonUnit
      // {
        description = "Copy the backup to the offload repository (backup-hooks offload)";
        documentation = [ "man:backup-hooks(1)" ];
        # Manual: plug the disk in, then `systemctl start backup-offload`; never at the same time as the backup.
        conflicts = [ "${unit}.service" ];
        restartIfChanged = false;
        serviceConfig = sandboxFor [ cfg.offload.repository ] // {
          Type = "oneshot";
          ExecStart = utils.escapeSystemdExecArgs [
            backupHooks
            "offload"
            "--config"
            "${configFile}"
          ];
        };
      }
    );
  };
}

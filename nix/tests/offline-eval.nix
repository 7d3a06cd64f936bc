# Evaluates the NixOS module for `cargo xtask checks`, where nixpkgs is not available (CI, a user's clone):
# the module system and types come from ./standin-lib.nix (modelled on nixos-25.05's lib), the NixOS options
# homey touches from ./nixos-stubs.nix, and pkgs/utils from small stand-ins below. Pass the real lib to run
# the very same evaluation with it (nix/tests/README.md says how; the output must be identical):
#
#   nix-instantiate --eval --strict --json nix/tests/offline-eval.nix [--arg readmeFlake /path/to/snippet.nix]
#     [--arg lib 'import /path/to/nixpkgs/lib']
#
# Per host (the example homelab, the README's snippet, each VM test's machine) it gives the failed
# assertions, each unit of ours as NixOS would write it (unitFiles, for systemd-analyze), its command lines
# and sandbox drift, the generated monitors/rules/backup files, and `fileProblems`: every file a tool reads
# (config, credentials, state, output) checked against what its unit provides. `refusals` are hosts the
# module must refuse, each with the message expected.
{
  lib ? import ./standin-lib.nix,
  # The README's "Use it on NixOS" flake snippet, extracted to a file by xtask.
  readmeFlake ? null,
}:
let
  inherit (builtins)
    attrNames
    concatMap
    filter
    isAttrs
    isList
    mapAttrs
    toJSON
    ;

  store = name: "/nix/store/00000000000000000000000000000000-${name}";
  drv = name: {
    type = "derivation";
    inherit name;
    outPath = store name;
  };

  # A generated file: a store path when interpolated, its content kept for the checks.
  fakeFile = kind: name: content: {
    type = "derivation";
    outPath = store name;
    inherit kind name content;
  };

  # nixpkgs' pkgs/pkgs-lib/formats.nix: the value types of the json and toml formats.
  formatType =
    description: nullable:
    let
      valueType =
        (
          if nullable then lib.types.nullOr else (t: t)
        )
          (
            lib.types.oneOf [
              lib.types.bool
              lib.types.int
              lib.types.float
              lib.types.str
              lib.types.path
              (lib.types.attrsOf valueType)
              (lib.types.listOf valueType)
            ]
          )
        // {
          inherit description;
        };
    in
    valueType;

  pkgsStub = {
    formats = {
      json = _: {
        type = formatType "JSON value" true;
        generate = fakeFile "json";
      };
      toml = _: {
        type = formatType "TOML value" false;
        generate = fakeFile "toml";
      };
    };
    runCommand = name: _env: script: fakeFile "runCommand" name script;
    writeText = fakeFile "text";
    homey = drv "homey";
    iw = drv "iw";
    restic = drv "restic";
    util-linux = drv "util-linux";
    postgresql = drv "postgresql";
    bash = drv "bash";
    sqlite = drv "sqlite";
  };

  pkgs = pkgsStub;

  # As nixpkgs' nixos/lib/utils.nix.
  utils = {
    escapeSystemdExecArgs =
      args:
      builtins.concatStringsSep " " (
        map (a: builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (toJSON (toString a))) args
      );
    escapeSystemdPath =
      s: builtins.replaceStrings [ "/" "-" " " ] [ "-" "\\x2d" "\\x20" ] (lib.removePrefix "/" s);
  };

  hardening = (import ../hardening.nix).units;
  # The sandbox each of our units must carry, by unit name.
  sandboxOf = {
    kuma-sync = "kuma-sync";
    backup = "backup";
    backup-offload = "backup-offload";
    net-watchdog = "net-watchdog";
    net-watchdog-power-save = "net-watchdog-power-save@";
    attic-config = "attic-config";
    attic-netrc = "attic-netrc";
  };

  # NixOS's unit file syntax (nixos/lib/systemd-lib.nix): booleans true/false, a list as repeated lines.
  render =
    v:
    if v == true then
      "true"
    else if v == false then
      "false"
    else
      toString v;
  # An empty string is written (CapabilityBoundingSet= means none); an empty list or null is not.
  section =
    title: attrs:
    "[${title}]\n"
    + builtins.concatStringsSep "" (
      lib.mapAttrsToList (k: v: builtins.concatStringsSep "" (map (x: "${k}=${render x}\n") (lib.toList v))) (
        lib.filterAttrs (_: v: v != [ ] && v != null) attrs
      )
    );
  unitText =
    unit:
    section "Unit" (lib.filterAttrs (_: v: v != "") {
      Description = unit.description;
      Documentation = builtins.concatStringsSep " " unit.documentation;
      After = unit.after;
      Before = unit.before;
      Wants = unit.wants;
      Requires = unit.requires;
      BindsTo = unit.bindsTo;
      PartOf = unit.partOf;
      Conflicts = unit.conflicts;
    })
    + "\n"
    + section "Service" (
      {
        Environment =
          map (kv: toJSON kv) (lib.mapAttrsToList (k: v: "${k}=${v}") unit.environment)
          ++ lib.optional (unit.path != [ ]) (toJSON "PATH=${lib.concatMapStringsSep ":" (p: "${p}/bin") unit.path}");
      }
      // unit.serviceConfig
    )
    + "\n"
    + section "Install" { WantedBy = unit.wantedBy; };

  # The credentials a unit gets (LoadCredential=NAME:PATH), by name.
  credentialNames = unit: map (c: builtins.head (lib.splitString ":" c)) (lib.toList (unit.serviceConfig.LoadCredential or [ ]));
  stateDirs = unit: map (d: "/var/lib/${d}") (lib.splitString " " (unit.serviceConfig.StateDirectory or ""));
  runtimeDirs = unit: map (d: "/run/${d}") (lib.splitString " " (unit.serviceConfig.RuntimeDirectory or ""));
  writable =
    unit:
    stateDirs unit
    ++ runtimeDirs unit
    ++ map (lib.removePrefix "-") (lib.toList (unit.serviceConfig.ReadWritePaths or [ ]));
  under = dirs: path: lib.any (d: d != "/var/lib/" && d != "/run/" && (path == d || lib.hasPrefix "${d}/" path)) dirs;

  # The `*_credential` values anywhere in a generated file, and its `*_file` secret paths.
  keysEnding =
    suffix: v:
    if isAttrs v then
      concatMap (k: if lib.hasSuffix suffix k && builtins.isString v.${k} then [ v.${k} ] else keysEnding suffix v.${k}) (attrNames v)
    else if isList v then
      concatMap (keysEnding suffix) v
    else
      [ ];

  # What each of our units reads and writes, checked against what the unit provides.
  fileProblemsOf =
    config: name: unit:
    let
      sc = unit.serviceConfig;
      exec = builtins.concatStringsSep " " (lib.toList (sc.ExecStart or [ ]));
      creds = credentialNames unit;
      need = what: cred: lib.optional (!(builtins.elem cred creds)) "${name}.service: ${what} names credential ${cred}, which the unit does not load (LoadCredential=)";
      inWritable = what: path: lib.optional (!(under (writable unit) path)) "${name}.service: ${what} ${path} is not in its StateDirectory=, RuntimeDirectory= or ReadWritePaths=";
      backupFile = config.homey.backup.configFile.content;
      monitorsFile = config.homey.monitoring.monitorsFile.content;
      # attic-token's and the other tools' fixed credential names (`%d/NAME` or the tool's default).
      percentD = concatMap (m: m) (
        map (w: let m = builtins.match "%d/([^ \"]+)" w; in if m == null then [ ] else m) (lib.splitString " " exec)
      );
      outFiles = concatMap (m: m) (
        map (w: let m = builtins.match "\"?(/run/[^ \"]+)\"?" w; in if m == null then [ ] else m) (
          lib.splitString " " (builtins.replaceStrings [ "\"--out\" " ] [ "" ] exec)
        )
      );
    in
    lib.optionals (name == "backup" || name == "backup-offload") (
      lib.optional (!(lib.hasInfix "${config.homey.backup.configFile}" exec)) "${name}.service: does not run with homey.backup.configFile"
      ++ concatMap (need "backup.toml") (keysEnding "_credential" backupFile)
      ++ map (p: "${name}.service: backup.toml names secret file ${p}: name a credential instead") (keysEnding "password_file" backupFile ++ keysEnding "environment_file" backupFile)
      ++ inWritable "backup.toml's state_dir" backupFile.state_dir
      ++ inWritable "backup.toml's staging_dir" backupFile.staging_dir
      ++ lib.optionals (backupFile.report ? textfile_dir) (inWritable "backup.toml's textfile_dir" backupFile.report.textfile_dir)
    )
    ++ lib.optionals (name == "kuma-sync") (
      need "kuma-sync (its password)" "kuma-password"
      ++ concatMap (need "monitors.json") (keysEnding "_credential" monitorsFile)
      ++ inWritable "kuma-sync's state (/var/lib/kuma-sync)" "/var/lib/kuma-sync"
    )
    ++ lib.optionals (name == "net-watchdog") (inWritable "net-watchdog's state (/var/lib/net-watchdog)" "/var/lib/net-watchdog")
    ++ concatMap (need "ExecStart's %d/") percentD
    ++ concatMap (inWritable "ExecStart's output") outFiles;

  # By hand: what /etc/backup-hooks/backup.toml names must resolve through /etc/homey/credentials.
  byHandProblems =
    config:
    let
      linked = attrNames config.homey.credentials;
      etc = config.environment.etc;
    in
    lib.optionals config.homey.backup.enable (
      lib.optional ((etc."backup-hooks/backup.toml".source or null) != config.homey.backup.configFile) "/etc/backup-hooks/backup.toml is not homey.backup.configFile"
      ++ map (c: "by hand: backup.toml names credential ${c}, which is not linked at /etc/homey/credentials/${c}") (
        filter (c: !(builtins.elem c linked)) (keysEnding "_credential" config.homey.backup.configFile.content)
      )
    )
    ++ lib.optional (config.homey.monitoring.kumaSync.enable && !(builtins.elem "kuma-password" linked)) "by hand: kuma-password is not linked at /etc/homey/credentials"
    ++ concatMap (
      c:
      lib.optional ((etc."homey/credentials/${c}".source or null) != config.homey.credentials.${c}) "/etc/homey/credentials/${c} does not link to ${config.homey.credentials.${c}}"
    ) linked
    # The tools on PATH for use by hand, once.
    ++ (
      let
        n = builtins.length (filter (p: p == config.homey.package) config.environment.systemPackages);
      in
      lib.optionals (lib.any (u: config.systemd.services ? ${u}) (attrNames sandboxOf)) (
        lib.optional (n != 1) "homey.package is in environment.systemPackages ${toString n} times, not once"
      )
    )
    # Authelia runs the rules that were linted: the rendered file mounted read-only, and loaded last.
    ++ lib.optionals (config.homey.authelia.container != null) (
      let
        a = config.homey.authelia;
        c = config.virtualisation.oci-containers.containers.${a.container};
        files = lib.splitString "," (c.environment.X_AUTHELIA_CONFIG or "");
      in
      lib.optional (!(builtins.elem "${a.renderedRules}:${a.rulesMountPoint}:ro" c.volumes)) "the ${a.container} container does not mount the rendered rules at ${a.rulesMountPoint}"
      ++ lib.optional (lib.last files != a.rulesMountPoint) "the ${a.container} container's X_AUTHELIA_CONFIG does not load ${a.rulesMountPoint} last"
      ++ lib.optional (!(builtins.elem (toString a.configHashEnvFile) (map toString c.environmentFiles))) "the ${a.container} container does not get NIXOS_CONFIG_HASH"
    );

  evalConfig =
    {
      modules,
      specialArgs ? { },
      pkgs ? pkgsStub,
    }:
    (lib.evalModules {
      modules = [
        ./nixos-stubs.nix
        ../module.nix
      ]
      ++ modules;
      specialArgs = {
        inherit pkgs utils;
      }
      // specialArgs;
    }).config;

  # The facts xtask checks, for one host.
  report =
    config:
    let
      ours = lib.filterAttrs (name: _: sandboxOf ? ${name}) config.systemd.services;
      expectedSandbox =
        name:
        let
          unprivileged = lib.hasPrefix "backup" name && (ours.${name}.serviceConfig.User or null) == "backup-hooks";
          s = if unprivileged then (import ../hardening.nix).backupUnprivileged else hardening.${sandboxOf.${name}};
        in
        # A Kuma that is not on loopback lifts kuma-sync's loopback-only allow list.
        if name == "kuma-sync" && !(ours.kuma-sync.serviceConfig ? IPAddressAllow) then
          removeAttrs s [
            "IPAddressDeny"
            "IPAddressAllow"
          ]
        else
          s;
    in
    {
      failedAssertions = map (a: a.message) (filter (a: !a.assertion) config.assertions);
      services = mapAttrs (name: unit: {
        exec = lib.filterAttrs (k: _: builtins.substring 0 4 k == "Exec") unit.serviceConfig;
        sandboxDrift = filter (k: (unit.serviceConfig.${k} or null) != (expectedSandbox name).${k}) (
          attrNames (expectedSandbox name)
        );
      }) ours;
      unitFiles = mapAttrs (_: unitText) ours;
      fileProblems = concatMap (name: fileProblemsOf config name ours.${name}) (attrNames ours) ++ byHandProblems config;
      # Units of others that homey orders (the containers): never created without a declared container.
      ordered = mapAttrs (_: unit: { inherit (unit) requires after; }) (
        lib.filterAttrs (name: _: !(sandboxOf ? ${name})) config.systemd.services
      );
      containers = mapAttrs (_: c: {
        inherit (c) volumes environment;
        environmentFiles = map toString c.environmentFiles;
      }) config.virtualisation.oci-containers.containers;
      credentials = config.homey.credentials;
      files = {
        monitors = config.homey.monitoring.monitorsFile.content;
      }
      // lib.optionalAttrs (config.homey.authelia.accessControlRules != { }) {
        rules = config.homey.authelia.rulesFile.content;
      }
      // lib.optionalAttrs config.homey.backup.enable {
        backup = config.homey.backup.configFile.content;
      };
    };

  # A flake (the example homelab, the README's snippet) called with stand-ins for its inputs: the modules and
  # specialArgs of its first nixosConfiguration.
  flakeHost =
    file:
    let
      outputs = (import file).outputs {
        self = { };
        nixpkgs.lib = lib // {
          nixosSystem = args: args;
        };
        homey.nixosModules.default = ../module.nix;
        sops-nix.nixosModules.sops = { };
      };
      system = outputs.nixosConfigurations.${builtins.head (attrNames outputs.nixosConfigurations)};
    in
    {
      inherit (system) modules;
      specialArgs = system.specialArgs or { };
    };

  # A backup with nothing that needs root: restic's non-root mode.
  unprivilegedBackup = {
    modules = [
      {
        homey.backup = {
          enable = true;
          repository = "/srv/restic";
          passwordFile = "/run/secrets/restic-password";
          paths = [ "/srv/data" ];
          databases.postgres = [
            {
              name = "app";
              runAs = null;
            }
          ];
          readWritePaths = [ "/srv/restic" ];
        };
      }
    ];
  };

  # kuma-sync talking to a Kuma elsewhere: the unit loses its loopback-only IP allow list.
  remoteKuma = {
    modules = [
      {
        homey.monitoring.kumaSync = {
          enable = true;
          url = "https://status.example.com";
          username = "admin";
          passwordFile = "/run/secrets/kuma-password";
          after = [ "network-online.target" ];
          credentials.ntfy-token = "/run/secrets/ntfy-token";
        };
        # The file's object form: every kind kuma-sync declares, checked by `kuma-sync validate`.
        homey.monitoring = {
          monitors = [
            {
              name = "Cloud";
              url = "https://cloud.example.com";
              notifications = [ "ntfy" ];
              status_pages = [ "home" ];
            }
          ];
          notifications = [
            {
              name = "ntfy";
              type = "ntfy";
              default = true;
              settings.ntfytopic = "homelab";
              secrets.ntfyaccesstoken = "ntfy-token";
            }
          ];
          statusPages = [
            {
              slug = "home";
              title = "Home lab";
            }
          ];
          dockerHosts = [
            {
              name = "podman";
              type = "socket";
              daemon = "/run/podman/podman.sock";
            }
          ];
          maintenance = [
            {
              title = "Nightly backup";
              strategy = "recurring-weekday";
              weekdays = [ 1 2 3 4 5 6 7 ];
              start_time = "03:00";
              end_time = "03:45";
              monitors = [ "Cloud" ];
              statusPages = [ "home" ];
            }
            {
              title = "Move";
              strategy = "manual";
            }
          ];
        };
      }
    ];
  };

  # nix/module.nix imported alone, on a host whose pkgs has no homey (no overlay): it builds the package itself.
  moduleAlone = {
    modules = [ { homey.netWatchdog.enable = true; } ];
    pkgs = removeAttrs pkgsStub [ "homey" ] // {
      callPackage = file: _args: drv "homey-from-${baseNameOf (toString file)}";
    };
  };

  # The VM tests' machines (nix/tests/*.nix) as hosts of their own.
  vmTests = {
    vm-backup = ./backup.nix;
    vm-kuma-sync = ./kuma-sync.nix;
    vm-net-watchdog = ./net-watchdog.nix;
    vm-attic = ./attic.nix;
  };
  vmHost = file: {
    modules = [ (import file { self.nixosModules.default = { }; }).nodes.machine ];
    specialArgs.nodes.gateway.networking.primaryIPAddress = "192.168.1.1";
  };

  example = flakeHost ../examples/homelab/flake.nix;

  # What the module must refuse, and the message that says so (a failed assertion or an evaluation error).
  refuse = expect: modules: {
    inherit expect;
    # Everything a system build would read is forced, so an error anywhere counts.
    eval =
      let
        r = report (evalConfig { inherit modules; });
      in
      builtins.deepSeq r r.failedAssertions;
  };
  minimalBackup = {
    homey.backup = {
      enable = true;
      repository = "/srv/restic";
      passwordFile = "/run/secrets/restic";
    };
  };
  refusals = {
    undeclared-authelia-container = refuse "virtualisation.oci-containers.containers.authelia is not declared" [
      { homey.authelia.container = "authelia"; }
    ];
    undeclared-attic-container = refuse "virtualisation.oci-containers.containers.attic is not declared" [
      {
        homey.attic.server = {
          enable = true;
          secretFile = "/run/secrets/attic";
          container = "attic";
        };
      }
    ];
    undeclared-kuma-container = refuse "but virtualisation.oci-containers.containers has no such container" [
      {
        homey.monitoring.kumaSync = {
          enable = true;
          username = "admin";
          passwordFile = "/run/secrets/kuma";
        };
      }
    ];
    authelia-config-flag = refuse "passes --config" [
      {
        homey.authelia.container = "authelia";
        virtualisation.oci-containers.containers.authelia = {
          image = "authelia/authelia:4.38";
          cmd = [
            "--config"
            "/config/configuration.yml"
          ];
        };
      }
    ];
    hash-file-on-the-host = refuse "homey.authelia.hashFiles: /etc/authelia/configuration.yml is neither" [
      { homey.authelia.hashFiles = [ "/etc/authelia/configuration.yml" ]; }
    ];
    secret-path-literal = refuse "homey.backup.passwordFile' is not of type `absolute path not in the Nix store'" [
      (lib.recursiveUpdate minimalBackup { homey.backup.passwordFile = ./offline-eval.nix; })
    ];
    secret-in-the-store = refuse "is not of type `absolute path not in the Nix store'" [
      (lib.recursiveUpdate minimalBackup { homey.backup.passwordFile = store "restic-password"; })
    ];
    attic-endpoint-not-a-url = refuse "homey.attic.client.endpoint must be an http(s) URL" [
      {
        homey.attic.client = {
          enable = true;
          endpoint = "attic.example.com";
          publicKey = "main:x";
          tokenFile = "/run/secrets/attic-token";
        };
      }
    ];
    # The error the homelab met when its own modules still declared these options (issue #12, point 8).
    monitors-declared-twice = refuse "The option `homey.monitoring.monitors' in" [
      (
        { lib, ... }:
        {
          options.homey.monitoring.monitors = lib.mkOption { default = [ ]; };
        }
      )
    ];
    conflicting-credential = refuse "The option `homey.credentials.restic-password' has conflicting definition values" [
      minimalBackup
      { homey.credentials.restic-password = "/run/secrets/other"; }
    ];
  };

  # The README's snippet names ./hosts/pi-main, which is not beside the extracted file: only what exists counts.
  readme =
    let
      host = flakeHost readmeFlake;
    in
    host // { modules = filter (m: !(builtins.isPath m) || builtins.pathExists m) host.modules; };
in
{
  hosts =
    mapAttrs (_: file: report (evalConfig (vmHost file))) vmTests
    // {
      example = report (evalConfig example);
      unprivileged-backup = report (evalConfig unprivilegedBackup);
      remote-kuma = report (evalConfig remoteKuma);
      module-alone =
        let
          config = evalConfig moduleAlone;
          r = report config;
        in
        r
        // {
          fileProblems =
            r.fileProblems
            ++ lib.optional (config.homey.package.name != "homey-from-package.nix") "nix/module.nix alone: homey.package is ${config.homey.package.name}, not built from nix/package.nix";
        };
    }
    // lib.optionalAttrs (readmeFlake != null) { readme = report (evalConfig readme); };

  # Every option under homey.*, submodules' options included, for the generated reference
  # (docs/nixos-options.md, written by `cargo xtask nixos-options`).
  optionDocs =
    let
      options =
        (lib.evalModules {
          modules = [
            ./nixos-stubs.nix
            ../module.nix
          ];
          specialArgs = { inherit pkgs utils; };
        }).options;
      pretty =
        v:
        if v == null then
          "null"
        else if v == true then
          "true"
        else if v == false then
          "false"
        else if builtins.isInt v then
          toString v
        else if builtins.isString v then
          toJSON v
        else if builtins.isPath v then
          toString v
        else if isList v then
          (if v == [ ] then "[ ]" else "[ ${builtins.concatStringsSep " " (map pretty v)} ]")
        else if lib.isDerivation v then
          "<derivation ${v.name}>"
        else if isAttrs v then
          (if v == { } then "{ }" else "{ ${builtins.concatStringsSep " " (lib.mapAttrsToList (k: x: "${k} = ${pretty x};") v)} }")
        else
          "<${builtins.typeOf v}>";
      text = v: if isAttrs v && (v._type or null == "literalExpression" || v._type or null == "literalMD") then v.text else pretty v;
      # The names nixpkgs' manual gives to the options inside lists and attribute sets of submodules.
      subPrefix =
        p: t:
        if t.name == "listOf" then
          subPrefix (p ++ [ "*" ]) t.nestedTypes.elemType
        else if t.name == "attrsOf" || t.name == "lazyAttrsOf" then
          subPrefix (p ++ [ "<name>" ]) t.nestedTypes.elemType
        else if t.name == "nullOr" then
          subPrefix p t.nestedTypes.elemType
        else
          p;
      walk =
        prefix: tree:
        concatMap (
          name:
          let
            o = tree.${name};
            p = prefix ++ [ name ];
          in
          if lib.isOption o then
            [
              {
                name = builtins.concatStringsSep "." p;
                type = o.type.description;
                description = o.description or null;
                default = if o ? defaultText then text o.defaultText else if o ? default then pretty o.default else null;
                example = if o ? example then text o.example else null;
                readOnly = o.readOnly or false;
              }
            ]
            ++ walk (subPrefix p o.type) (o.type.getSubOptions p)
          else
            walk p o
        ) (filter (name: !(lib.hasPrefix "_" name)) (attrNames tree));
    in
    walk [ "homey" ] options.homey;

  # xtask evaluates each `refusals.<name>.eval` on its own and expects `expect` in its failed assertions or its error.
  refusalExpectations = mapAttrs (_: r: r.expect) refusals;
  inherit refusals;
}

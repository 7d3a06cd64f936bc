# Evaluates the NixOS module WITHOUT nixpkgs, for `cargo xtask checks` on machines that have nix-instantiate but
# no nixpkgs (CI here). A stand-in `lib` implements only what nix/modules use, and the module system is reduced
# to what they need: option defaults, user values with submodule defaults filled in, mkIf/mkMerge/mkDefault.
# It is no substitute for `nix flake check`; it catches what a typo, a null in a string or a wrong option path
# would break, and hands xtask the generated units and files, whose command lines it runs through the tools.
#
# nix-instantiate --eval --strict --json nix/tests/offline-eval.nix [--arg readmeFlake /path/to/snippet.nix]
{
  # The README's "Use it on NixOS" flake snippet, extracted to a file by xtask.
  readmeFlake ? null,
}:
let
  inherit (builtins)
    attrNames
    concatMap
    filter
    foldl'
    isAttrs
    isFunction
    isList
    listToAttrs
    mapAttrs
    ;

  typeOf = name: extra: { _type = "type"; inherit name; } // extra;
  isOption = v: isAttrs v && (v._type or null) == "option";
  isAbsent = v: isAttrs v && (v._type or null) == "absent";

  lib = rec {
    mkOption = o: o // { _type = "option"; };
    mkEnableOption = description: mkOption {
      default = false;
      inherit description;
    };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    mkDefault = v: v;
    literalExpression = t: t;
    literalMD = t: t;
    types = {
      str = typeOf "str" { };
      bool = typeOf "bool" { };
      int = typeOf "int" { };
      path = typeOf "path" { };
      package = typeOf "package" { };
      ints = {
        between = _: _: typeOf "int" { };
        unsigned = typeOf "int" { };
        positive = typeOf "int" { };
      };
      enum = values: typeOf "enum" { inherit values; };
      nullOr = elem: typeOf "nullOr" { inherit elem; };
      listOf = elem: typeOf "listOf" { inherit elem; };
      attrsOf = elem: typeOf "attrsOf" { inherit elem; };
      submodule = module: typeOf "submodule" { inherit module; };
    };
    filterAttrs =
      pred: set:
      listToAttrs (
        concatMap (name: if pred name set.${name} then [ { inherit name; value = set.${name}; } ] else [ ]) (attrNames set)
      );
    filterAttrsRecursive =
      pred: set:
      listToAttrs (
        concatMap (
          name:
          let
            v = set.${name};
          in
          if pred name v then
            [
              {
                inherit name;
                value = if isAttrs v && !(v ? __toString) then filterAttrsRecursive pred v else v;
              }
            ]
          else
            [ ]
        ) (attrNames set)
      );
    inherit mapAttrs filter concatMap;
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    optional = c: x: if c then [ x ] else [ ];
    optionals = c: xs: if c then xs else [ ];
    optionalAttrs = c: s: if c then s else { };
    optionalString = c: s: if c then s else "";
    hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
    escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'${toString a}'") args);
  };

  # As nixpkgs' nixos/lib/utils.nix.
  utils = {
    escapeSystemdExecArgs =
      args:
      builtins.concatStringsSep " " (
        map (a: builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString a))) args
      );
    escapeSystemdPath = s: s;
  };

  # A generated file: interpolates as a store path, keeps its content for the checks.
  fakeFile = kind: name: content: {
    __toString = _: "/nix/store/00000000000000000000000000000000-${name}";
    inherit kind name content;
  };
  pkgs = {
    formats = {
      json = _: {
        type = "json value";
        generate = fakeFile "json";
      };
      toml = _: {
        type = "toml value";
        generate = fakeFile "toml";
      };
    };
    runCommand = name: _env: script: fakeFile "runCommand" name script;
    iw = "/nix/store/00000000000000000000000000000000-iw";
    restic = "/nix/store/00000000000000000000000000000000-restic";
    util-linux = "/nix/store/00000000000000000000000000000000-util-linux";
    postgresql = "/nix/store/00000000000000000000000000000000-postgresql";
  };

  # A value of `type`, with the defaults of (nested) submodules filled in.
  apply =
    type: value:
    if !(isAttrs type) || (type._type or null) != "type" then
      value
    else if type.name == "nullOr" then
      (if value == null then null else apply type.elem value)
    else if type.name == "listOf" then
      map (apply type.elem) value
    else if type.name == "attrsOf" then
      mapAttrs (_: apply type.elem) value
    else if type.name == "submodule" then
      fillSubmodule type.module value
    else
      value;

  # As the module system: a setting that names no option is an error, unless the submodule is freeform.
  checkKnown =
    where: opts: value:
    let
      unknown = filter (n: !(opts ? ${n})) (attrNames value);
    in
    if unknown == [ ] then
      value
    else
      throw "The option `${where}.${builtins.head unknown}' does not exist.";

  fillSubmodule =
    module: value:
    let
      m = if isFunction module then module { config = result; } else module;
      known = if m ? freeformType then value else checkKnown "(submodule)" m.options value;
      result = known // mapAttrs (name: opt: apply (opt.type or null) (value.${name} or (optionDefault name opt))) m.options;
    in
    result;

  optionDefault = name: opt: if opt ? default then opt.default else throw "option ${name} has no value and no default";

  evalOptions =
    where: opts: user:
    mapAttrs (
      name: o:
      if isOption o then
        apply (o.type or null) (if user ? ${name} then user.${name} else optionDefault name o)
      else
        evalOptions "${where}.${name}" o (user.${name} or { })
    ) (builtins.seq (checkKnown where opts user) opts);

  # mkIf/mkMerge resolved; a false mkIf removes its attribute.
  resolve =
    v:
    if isAttrs v then
      let
        t = v._type or null;
      in
      if t == "if" then
        (if v.condition then resolve v.content else { _type = "absent"; })
      else if t == "merge" then
        foldl' merge { } (filter (x: !isAbsent x) (map resolve v.contents))
      else if v ? __toString then
        v
      else
        lib.filterAttrs (_: x: !isAbsent x) (mapAttrs (_: resolve) v)
    else
      v;

  merge =
    a: b:
    a
    // mapAttrs (
      n: bv:
      if a ? ${n} && isAttrs a.${n} && isAttrs bv && !(bv ? __toString) then
        merge a.${n} bv
      else if a ? ${n} && isList a.${n} then
        a.${n} ++ bv
      else
        bv
    ) b;

  moduleFiles = [
    ../modules/monitoring.nix
    ../modules/authelia.nix
    ../modules/backup.nix
    ../modules/attic.nix
    ../modules/net-watchdog.nix
  ];

  hardening = (import ../hardening.nix).units;
  sandboxOf = {
    kuma-sync = "kuma-sync";
    backup = "backup";
    backup-offload = "backup";
    net-watchdog = "net-watchdog";
    net-watchdog-power-save = "net-watchdog-power-save@";
    attic-config = "attic-config";
    attic-netrc = "attic-netrc";
  };

  # What the modules read from outside homey.* on a plain host.
  plainHost = {
    services = {
      nextcloud.enable = false;
      postgresql.enable = false;
      openldap.enable = false;
    };
    networking.wireless.interfaces = [ ];
    # The homelab runs Uptime Kuma as this container (kumaSync.container's default); declared by its own module.
    virtualisation.oci-containers = {
      backend = "podman";
      containers.uptime-kuma.image = "docker.io/louislam/uptime-kuma:1";
    };
    systemd.package = "/nix/store/00000000000000000000000000000000-systemd";
  };

  # The modules evaluated on `host` with `homey` as the user's settings.
  evalHost =
    {
      host,
      homey,
      remoteKuma ? false,
    }:
    let
      finalConfig = host // {
        homey = evalOptions "homey" options.homey (homey // { package = "/nix/store/00000000000000000000000000000000-homey"; });
      };
      args = {
        inherit lib pkgs utils;
        config = finalConfig;
      };
      modules = map (f: import f args) moduleFiles;
      topModule = import ../module.nix { inherit lib; };
      options.homey = foldl' (acc: m: acc // m.options.homey) topModule.options.homey modules;
      out = foldl' merge { } (map (m: resolve (m.config or { })) modules);
      units = out.systemd.services or { };

      # A remote Kuma lifts kuma-sync's loopback-only allow list.
      expectedSandbox =
        name:
        let
          s = hardening.${sandboxOf.${name}};
        in
        if name == "kuma-sync" && remoteKuma then builtins.removeAttrs s [ "IPAddressDeny" "IPAddressAllow" ] else s;
    in
    {
      # Units the module only orders (the containers) have no serviceConfig of ours.
      ordered = mapAttrs (_: unit: { inherit (unit) requires after; }) (
        lib.filterAttrs (_: unit: !(unit ? serviceConfig)) units
      );
      services = mapAttrs (
        name: unit:
        let
          sc = unit.serviceConfig;
        in
        {
          exec = lib.filterAttrs (k: _: builtins.substring 0 4 k == "Exec") sc;
          sandboxDrift =
            if sandboxOf ? ${name} then
              filter (k: (sc.${k} or null) != (expectedSandbox name).${k}) (attrNames (expectedSandbox name))
            else
              [ "no sandbox known for this unit" ];
          loadCredential = sc.LoadCredential or [ ];
        }
      ) (lib.filterAttrs (_: unit: unit ? serviceConfig) units);
      timers = out.systemd.timers or { };
      containers = mapAttrs (_: c: mapAttrs (_: toString) c) (out.virtualisation.oci-containers.containers or { });
      failedAssertions = map (a: a.message) (filter (a: !a.assertion) (out.assertions or [ ]));
      # As the module: rules are linted only when there are some (Authelia rejects an empty list with
      # default_policy deny, and so does authelia-rules).
      files = {
        monitors = finalConfig.homey.monitoring.monitorsFile.content;
      }
      // lib.optionalAttrs (finalConfig.homey.authelia.accessControlRules != { }) {
        rules = finalConfig.homey.authelia.rulesFile.content;
      }
      // lib.optionalAttrs finalConfig.homey.backup.enable {
        backup = finalConfig.homey.backup.configFile.content;
      };
    };

  # The example host, plus settings the example leaves at their defaults.
  exampleHost = plainHost // {
    services = {
      nextcloud = {
        enable = true;
        occ = "/nix/store/00000000000000000000000000000000-nextcloud-occ";
        datadir = "/var/lib/nextcloud";
        config = {
          dbpassFile = "/run/secrets/nextcloud-db";
          objectstore.s3.enable = false;
        };
        secrets = { };
      };
      postgresql = {
        enable = true;
        package = "/nix/store/00000000000000000000000000000000-postgresql-16";
      };
      openldap.enable = true;
    };
    networking.wireless.interfaces = [ "wlan0" ];
    sops.secrets = mapAttrs (name: _: { path = "/run/secrets/${name}"; }) example.sops.secrets;
  };
  example = import ../examples/homelab.nix {
    config = exampleHost // {
      homey = exampleEvalHomey;
    };
    homeyConfig.domain = "example.com";
  };
  exampleSettings = merge example.homey {
    backup.offload = {
      repository = "/mnt/usb/restic";
      passwordFile = "/run/secrets/offload-password";
    };
    monitoring.kumaSync.url = "https://status.example.com";
  };
  # The example reads one readOnly option (the attic config path); it does not depend on other settings.
  exampleEvalHomey.attic.server.configFile = "/run/homey-attic/attic-config.toml";

  # The README's flake snippet, called with stand-ins for nixpkgs and this flake: its inline module is the
  # user's settings.
  readme =
    let
      outputs = (import readmeFlake).outputs {
        nixpkgs.lib.nixosSystem = args: args;
        homey.nixosModules.default = "homey";
      };
      system = outputs.nixosConfigurations.${builtins.head (attrNames outputs.nixosConfigurations)};
      inline = filter isAttrs system.modules;
    in
    foldl' merge { } (map (m: m.homey or { }) inline);

  # The VM tests' machines (nix/tests/*.nix), their homey settings on a plain host.
  vmTests = {
    vm-backup = ./backup.nix;
    vm-kuma-sync = ./kuma-sync.nix;
    vm-net-watchdog = ./net-watchdog.nix;
    vm-attic = ./attic.nix;
  };
  vmHomey =
    file:
    let
      test = import file { self.nixosModules.default = "homey"; };
      machine = test.nodes.machine;
    in
    (machine {
      inherit lib;
      pkgs = pkgs // {
        bash = "/nix/store/00000000000000000000000000000000-bash";
        sqlite = "/nix/store/00000000000000000000000000000000-sqlite";
      };
      nodes.gateway.networking.primaryIPAddress = "192.168.1.1";
      config = { };
    }).homey;
in
mapAttrs (
  _: file:
  evalHost {
    host = plainHost;
    homey = vmHomey file;
  }
) vmTests
// {
  example = evalHost {
    host = exampleHost;
    homey = exampleSettings;
    remoteKuma = true;
  };
}
// lib.optionalAttrs (readmeFlake != null) {
  readme = evalHost {
    host = plainHost;
    homey = readme;
  };
}

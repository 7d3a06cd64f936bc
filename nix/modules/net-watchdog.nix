# homey.netWatchdog: keep the Pi on the network -- probe the gateway every 2 minutes (from 5 minutes after boot);
# when it is dead, WiFi power save off, restart wpa_supplicant, probe again, and reboot only within a budget.
# Also switches WiFi power save off whenever the interface appears (brcmfmac drops connections with it on).
#
#   homey.netWatchdog = { enable = true; interface = "wlan0"; targets = [ "1.1.1.1:443" ]; };
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:

let
  inherit (lib) mkOption types;
  cfg = config.homey.netWatchdog;
  sandbox = (import ../hardening.nix).units;
  tool = "${config.homey.package}/bin/net-watchdog";
  # NixOS runs one wpa_supplicant per interface when networking.wireless.interfaces is set.
  wpaUnit =
    if config.networking.wireless.interfaces != [ ] then "wpa_supplicant-${cfg.interface}.service" else "wpa_supplicant.service";
  device = "sys-subsystem-net-devices-${utils.escapeSystemdPath cfg.interface}.device";
in
{
  options.homey.netWatchdog = {
    enable = lib.mkEnableOption "the network watchdog (net-watchdog)";
    interface = mkOption {
      type = types.str;
      default = "wlan0";
      description = "The interface to probe through.";
    };
    gateway = mkOption {
      type = types.str;
      default = "auto";
      description = "The gateway to ping: auto (the interface's default route) or an IP.";
    };
    targets = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "1.1.1.1:443" ];
      description = "More probes: IP (ICMP) or IP:PORT (TCP connect). Healthy when any answers -- for gateways that drop ICMP.";
    };
    restartUnit = mkOption {
      type = types.str;
      default = wpaUnit;
      defaultText = lib.literalMD "`wpa_supplicant-<interface>.service` when `networking.wireless.interfaces` is set, else `wpa_supplicant.service`";
      description = "The unit restarted before a reboot is considered.";
    };
    settle = mkOption {
      type = types.str;
      default = "30s";
      description = "How long to wait after the restart before probing again.";
    };
    maxReboots = mkOption {
      type = types.ints.unsigned;
      default = 3;
      description = "At most this many reboots per rebootWindow (the budget survives reboots).";
    };
    rebootWindow = mkOption {
      type = types.str;
      default = "24h";
      description = "The sliding window maxReboots counts in (30s, 5m, 24h).";
    };
    bootGrace = mkOption {
      type = types.str;
      default = "5m";
      description = "Never reboot before the system has been up this long.";
    };
    firstCheck = mkOption {
      type = types.str;
      default = "5min";
      description = "First check after boot (OnBootSec).";
    };
    interval = mkOption {
      type = types.str;
      default = "2min";
      description = "Time between checks (OnUnitActiveSec).";
    };
    powerSaveOff = mkOption {
      type = types.bool;
      default = true;
      description = "Switch WiFi power save off on the interface whenever it appears.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.net-watchdog = {
      description = "Network watchdog (net-watchdog)";
      documentation = [ "man:net-watchdog(1)" ];
      after = [ "network.target" ];
      serviceConfig = sandbox.net-watchdog // {
        Type = "oneshot";
        ExecStart = utils.escapeSystemdExecArgs (
          [
            tool
            "check"
            "--interface"
            cfg.interface
            "--gateway"
            cfg.gateway
            "--restart-unit"
            cfg.restartUnit
            "--settle"
            cfg.settle
            "--max-reboots"
            (toString cfg.maxReboots)
            "--reboot-window"
            cfg.rebootWindow
            "--boot-grace"
            cfg.bootGrace
            # systemctl restarts wpa_supplicant and asks for the reboot; iw switches power save.
            "--systemctl"
            "${config.systemd.package}/bin/systemctl"
            "--iw"
            "${pkgs.iw}/bin/iw"
          ]
          ++ lib.concatMap (target: [
            "--target"
            target
          ]) cfg.targets
        );
        StateDirectory = "net-watchdog";
        StateDirectoryMode = "0700";
        TimeoutStartSec = "5min";
      };
    };

    systemd.timers.net-watchdog = {
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnBootSec = cfg.firstCheck;
        OnUnitActiveSec = cfg.interval;
        AccuracySec = "10s";
      };
    };

    systemd.services.net-watchdog-power-save = lib.mkIf cfg.powerSaveOff {
      description = "WiFi power save off on ${cfg.interface} (net-watchdog)";
      documentation = [ "man:net-watchdog(1)" ];
      bindsTo = [ device ];
      after = [ device ];
      wantedBy = [ device ];
      serviceConfig = sandbox."net-watchdog-power-save@" // {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = utils.escapeSystemdExecArgs [
          tool
          "power-save"
          "--interface"
          cfg.interface
          "--off"
          "--iw"
          "${pkgs.iw}/bin/iw"
        ];
      };
    };
  };
}

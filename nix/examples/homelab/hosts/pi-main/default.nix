# pi-main: enabled services, static IP, WiFi, reliability hardening, Attic substituter. Migrated: the network
# watchdog timer + script, the WiFi power-save udev/iw hook and the hand-written netrc for the Nix daemon are
# gone; homey.netWatchdog and homey.attic.client do the same jobs. Everything else stays.
{ config, homeyConfig, ... }:
{
  networking = {
    hostName = "pi-main";
    interfaces.wlan0.ipv4.addresses = [
      {
        address = "192.168.1.100";
        prefixLength = 24;
      }
    ];
    defaultGateway = "192.168.1.1";
    wireless = {
      enable = true;
      interfaces = [ "wlan0" ];
      secretsFile = config.sops.secrets."wifi/psk".path;
      networks.Zakobar.pskRaw = "ext:wifi_psk";
    };
  };
  sops.secrets = {
    "wifi/psk" = { };
    "attic/pull-token" = { };
  };

  # Reliability hardening that stays: hardware watchdog, zram, the build directory.
  boot.kernelModules = [ "bcm2835_wdt" ];
  systemd.watchdog = {
    runtimeTime = "300s";
    rebootTime = "360s";
  };
  zramSwap = {
    enable = true;
    algorithm = "zstd";
    memoryPercent = 25;
  };

  # Gateway every 2 minutes from 5 minutes after boot; restart wpa_supplicant-wlan0, reboot within a budget;
  # WiFi power save off whenever wlan0 appears.
  homey.netWatchdog = {
    enable = true;
    interface = "wlan0";
    # The router drops ICMP at times; a TCP answer from it counts as alive.
    targets = [ "192.168.1.1:53" ];
  };

  homey.attic.client = {
    enable = true;
    endpoint = "https://attic.${homeyConfig.domain}/main";
    publicKey = "main:9SZt/6plBU7jjQzz90J7O011I13hmJvOMYouxNqExNQ=";
    tokenFile = config.sops.secrets."attic/pull-token".path;
  };

  system.stateVersion = "25.05";
}

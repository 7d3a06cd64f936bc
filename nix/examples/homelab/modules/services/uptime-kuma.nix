# Uptime Kuma in its container. Migrated: the `options.homey.monitoring.monitors` declaration and the Python
# sync oneshot are gone (homey declares the option and runs kuma-sync); the monitors stay as they were.
{ config, homeyConfig, ... }:
let
  inherit (homeyConfig) domain;
in
{
  virtualisation.oci-containers.containers.uptime-kuma = {
    image = "louislam/uptime-kuma:1.23.16";
    ports = [ "127.0.0.1:3001:3001" ];
    volumes = [ "/var/lib/uptime-kuma:/app/data" ];
    extraOptions = [ "--network=homey" ];
  };

  sops.secrets = {
    "kuma/password" = { };
    "kuma/backup-push-token" = { };
  };

  # kuma-sync starts after podman-uptime-kuma.service (kumaSync.container's default) and again with it.
  homey.monitoring.kumaSync = {
    enable = true;
    username = "admin";
    passwordFile = config.sops.secrets."kuma/password".path;
    # The push monitor's token is a secret: named by credential, never written into the store.
    credentials.backup-push-token = config.sops.secrets."kuma/backup-push-token".path;
  };

  homey.monitoring.monitors = [
    {
      name = "Uptime Kuma";
      url = "https://status.${domain}";
    }
    {
      name = "Backup";
      type = "push";
      push_token_credential = "backup-push-token";
      interval = 90000;
    }
  ];

  homey.authelia.accessControlRules.status-page = {
    priority = 0;
    domain = "status.${domain}";
    policy = "bypass";
  };
}

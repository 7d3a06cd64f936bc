# Attic in its container. Migrated: the ExecStartPre script that wrote /run/attic-config.toml with the JWT
# secret is gone; attic-config.service renders /run/homey-attic/attic-config.toml (0600) before the container.
{ config, homeyConfig, ... }:
let
  inherit (homeyConfig) domain;
in
{
  sops.secrets."attic/jwt-secret" = { };

  homey.attic.server = {
    enable = true;
    container = "attic";
    settings = {
      listen = "[::]:8080";
      api-endpoint = "https://attic.${domain}/";
      database.url = "sqlite:///var/lib/atticd/server.db?mode=rwc";
      storage = {
        type = "local";
        path = "/var/lib/atticd/storage";
      };
      chunking = {
        nar-size-threshold = 65536;
        min-size = 16384;
        avg-size = 65536;
        max-size = 262144;
      };
    };
    secretFile = config.sops.secrets."attic/jwt-secret".path;
  };

  virtualisation.oci-containers.containers.attic = {
    image = "ghcr.io/zhaofengli/attic:latest";
    cmd = [
      "-f"
      "/attic/server.toml"
    ];
    volumes = [
      "${config.homey.attic.server.configFile}:/attic/server.toml:ro"
      "/var/lib/atticd:/var/lib/atticd"
    ];
    extraOptions = [ "--network=homey" ];
  };

  homey.monitoring.monitors = [
    {
      name = "Attic";
      url = "https://attic.${domain}/";
    }
  ];
}

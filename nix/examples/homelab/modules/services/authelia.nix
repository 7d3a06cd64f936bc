# Authelia in its container. Migrated: the `accessControlRules` option declaration and the Nix code that
# sorted and rendered the rules are gone; homey renders, lints, mounts them and sets NIXOS_CONFIG_HASH. The
# rest of Authelia's configuration stays in its own file, without an access_control section.
{ homeyConfig, pkgs, ... }:
let
  inherit (homeyConfig) domain;
  # Rendered at build time from Nix strings, as before (abridged).
  configuration = pkgs.writeText "authelia-configuration.yml" ''
    server:
      address: tcp://0.0.0.0:9091
    session:
      cookies:
        - domain: ${domain}
          authelia_url: https://auth.${domain}
  '';
in
{
  virtualisation.oci-containers.containers.authelia = {
    image = "authelia/authelia:4.38";
    ports = [ "127.0.0.1:9091:9091" ];
    volumes = [
      "${configuration}:/config/configuration.yml:ro"
      "/var/lib/authelia:/var/lib/authelia"
    ];
    extraOptions = [ "--network=homey" ];
  };

  homey.authelia = {
    container = "authelia";
    # Authelia's own file, loaded before the rules (X_AUTHELIA_CONFIG); its change restarts the container too.
    configFiles = [ "/config/configuration.yml" ];
    hashFiles = [ configuration ];
    networks = [
      {
        name = "internal";
        networks = [ "192.168.1.0/24" ];
      }
    ];
    # The rules the homelab already declares, unchanged.
    accessControlRules = {
      grafana-admins = {
        priority = 20;
        domain = "grafana.${domain}";
        policy = "two_factor";
        subject = [ "group:admins" ];
      };
      grafana-deny = {
        priority = 21;
        domain = "grafana.${domain}";
        policy = "deny";
      };
      cloud = {
        priority = 50;
        domain = "cloud.${domain}";
        policy = "one_factor";
      };
    };
  };

  homey.monitoring.monitors = [
    {
      name = "Authelia";
      url = "https://auth.${domain}/api/health";
    }
  ];
  homey.backup.extraPaths = [ "/var/lib/authelia" ];
}

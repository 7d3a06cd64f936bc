# A homelab host wired with every homey option, shaped like the Pi the tools were written for (domain from
# homeyConfig, secrets from sops-nix, services in podman containers). Import it next to homey.nixosModules.default;
# `cargo xtask checks` parses it.
{ config, homeyConfig, ... }:

let
  inherit (homeyConfig) domain;
  secret = name: config.sops.secrets.${name}.path;
in
{
  sops.secrets = {
    "kuma/password" = { };
    "restic/password" = { };
    "restic/b2-env" = { };
    "ldap/admin-password" = { };
    "attic/jwt-secret" = { };
    "attic/pull-token" = { };
  };

  # Any module adds its own monitor and rules next to the service it defines.
  homey.monitoring.monitors = [
    {
      name = "Nextcloud";
      url = "https://cloud.${domain}/status.php";
      keyword = "\"installed\":true";
      maxretries = 2;
    }
    {
      name = "Grafana";
      url = "https://grafana.${domain}/api/health";
      interval = 120;
    }
    {
      name = "Backup";
      type = "push";
      push_token = "nightly-backup-push";
      interval = 90000;
    }
  ];
  homey.monitoring.kumaSync = {
    enable = true;
    username = "admin";
    passwordFile = secret "kuma/password";
  };

  homey.authelia = {
    container = "authelia";
    networks = [
      {
        name = "internal";
        networks = [ "192.168.1.0/24" ];
      }
    ];
    accessControlRules = {
      status-page = {
        priority = 0;
        domain = "status.${domain}";
        policy = "bypass";
      };
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

  homey.backup = {
    enable = true;
    repository = "s3:https://s3.eu-central-003.backblazeb2.com/example-home-backup";
    passwordFile = secret "restic/password";
    environmentFile = secret "restic/b2-env";
    paths = [
      "/var/lib/nextcloud"
      "/var/lib/authelia"
    ];
    exclude = [
      "/mnt/data/attic"
      "/mnt/data/media"
    ];
    databases = {
      postgres = [ { name = "nextcloud"; } ];
      sqlite = [
        {
          name = "uptime-kuma";
          path = "/var/lib/uptime-kuma/kuma.db";
        }
      ];
      ldap = [
        {
          name = "directory";
          baseDn = "dc=example,dc=com";
          bindDn = "cn=admin,dc=example,dc=com";
          bindPasswordFile = secret "ldap/admin-password";
        }
      ];
    };
    check.readDataSubset = "5%";
    report = {
      kumaPushUrl = "http://127.0.0.1:3001/api/push/nightly-backup-push";
      textfileDir = "/var/lib/prometheus-node-exporter/textfile";
    };
  };

  homey.attic.server = {
    enable = true;
    container = "attic";
    template = ../../examples/attic-server.toml;
    secretFile = secret "attic/jwt-secret";
  };
  homey.attic.client = {
    enable = true;
    endpoint = "https://attic.${domain}/main";
    publicKey = "main:9SZt/6plBU7jjQzz90J7O011I13hmJvOMYouxNqExNQ=";
    tokenFile = secret "attic/pull-token";
  };
  virtualisation.oci-containers.containers.attic.volumes = [
    "${config.homey.attic.server.configFile}:/attic/server.toml:ro"
  ];

  homey.netWatchdog = {
    enable = true;
    interface = "wlan0";
    # The router drops ICMP at times; a TCP answer from it counts as alive.
    targets = [ "192.168.1.1:53" ];
  };
}

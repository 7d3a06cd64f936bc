# Nextcloud with PostgreSQL and the LDAP directory, as the homelab has them (abridged). Unchanged by the
# migration: homey.backup puts it in maintenance mode, and its unit carries Nextcloud's own credentials, so
# occ can read config.php's secrets during the backup.
{ config, homeyConfig, ... }:
{
  sops.secrets."nextcloud/db-password".owner = "nextcloud";
  services.nextcloud = {
    enable = true;
    hostName = "cloud.${homeyConfig.domain}";
    config = {
      dbtype = "pgsql";
      dbpassFile = config.sops.secrets."nextcloud/db-password".path;
    };
  };
  services.postgresql.enable = true;
  services.openldap.enable = true;

  homey.monitoring.monitors = [
    {
      name = "Nextcloud";
      url = "https://cloud.${homeyConfig.domain}/status.php";
      keyword = "\"installed\":true";
      maxretries = 2;
    }
  ];
}

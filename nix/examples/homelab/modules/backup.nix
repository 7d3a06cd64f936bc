# The nightly backup. Migrated: services.restic.backups.daily with its backupPrepareCommand /
# backupCleanupCommand shell hooks is gone; homey.backup keeps the same repository, password, paths and
# schedule, and any module still adds its paths with homey.backup.extraPaths (the option this file declared).
{ config, ... }:
{
  sops.secrets = {
    "restic/password" = { };
    "restic/b2-env" = { };
    "restic/offload-password" = { };
    "ldap/admin-password" = { };
    "kuma/backup-push-url" = { };
  };

  homey.backup = {
    enable = true;
    repository = "s3:https://s3.eu-central-003.backblazeb2.com/example-home-backup";
    passwordFile = config.sops.secrets."restic/password".path;
    environmentFile = config.sops.secrets."restic/b2-env".path;
    paths = [ "/var/lib/nextcloud" ];
    # NAR content is reproducible; media is too big.
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
          bindPasswordFile = config.sops.secrets."ldap/admin-password".path;
        }
      ];
    };
    check.readDataSubset = "5%";
    # Manual offload: plug the disk in, `systemctl start backup-offload`.
    offload = {
      repository = "/mnt/usb/restic";
      passwordFile = config.sops.secrets."restic/offload-password".path;
    };
    report = {
      kumaPushUrlFile = config.sops.secrets."kuma/backup-push-url".path;
      textfileDir = "/var/lib/prometheus-node-exporter/textfile";
    };
  };
}

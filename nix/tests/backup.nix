# VM test: the nightly backup unit against a local restic repository, a real PostgreSQL and a SQLite file.
{ self }:
{
  name = "homey-backup";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];
      environment.systemPackages = [
        pkgs.restic
        pkgs.sqlite
      ];
      services.postgresql = {
        enable = true;
        ensureDatabases = [ "app" ];
      };
      # A copied file, not a store symlink, and readable by root only: what sops would provide.
      environment.etc."restic-password" = {
        text = "vm-test-repository-password";
        mode = "0400";
      };
      environment.etc."restic-offload-password" = {
        text = "vm-test-offload-password";
        mode = "0400";
      };
      homey.backup = {
        enable = true;
        # The second repository: backup-offload.service gets its own credentials directory.
        offload = {
          repository = "/var/lib/restic-offload";
          passwordFile = "/etc/restic-offload-password";
        };
        repository = "/var/lib/restic-repo";
        passwordFile = "/etc/restic-password";
        paths = [ "/var/lib/data" ];
        databases.postgres = [ { name = "app"; } ];
        databases.sqlite = [
          {
            name = "kuma";
            path = "/var/lib/data/kuma.db";
          }
        ];
        # The repository is local here; the sandbox keeps the rest of the file system read-only.
        readWritePaths = [ "/var/lib/restic-repo" ];
      };
    };

  testScript =
    { nodes, ... }:
    let
      configFile = nodes.machine.homey.backup.configFile;
    in
    ''
      import json

      restic = "restic -r /var/lib/restic-repo --password-file /etc/restic-password"
      machine.wait_for_unit("postgresql.service")
      machine.succeed("install -d -m 0700 /var/lib/data /var/lib/restic-repo")
      machine.succeed("echo hello > /var/lib/data/file.txt")
      machine.succeed("sqlite3 /var/lib/data/kuma.db 'create table t(x); insert into t values (42);'")
      machine.succeed("runuser -u postgres -- psql app -c 'create table rows(x int); insert into rows values (7);'")
      machine.succeed(f"{restic} init")

      with subtest("the timer is armed for 03:00"):
          machine.succeed("systemctl is-enabled backup.timer")
          assert "03:00:00" in machine.succeed("systemctl show -P TimersCalendar backup.timer")

      with subtest("a run saves one snapshot with the files and the dumps"):
          machine.succeed("systemctl start backup.service")
          snapshots = json.loads(machine.succeed(f"{restic} snapshots --json"))
          assert len(snapshots) == 1, snapshots
          listing = machine.succeed(f"{restic} ls latest")
          assert "/var/lib/data/file.txt" in listing, listing
          machine.succeed("backup-hooks status --config ${configFile}")

      with subtest("the password never reaches a command line or the journal"):
          machine.fail("journalctl -u backup.service | grep -F vm-test-repository-password")

      with subtest("offload copies the snapshot into the second repository"):
          machine.succeed("systemctl start backup-offload.service")
          offload = "restic -r /var/lib/restic-offload --password-file /etc/restic-offload-password"
          assert len(json.loads(machine.succeed(f"{offload} snapshots --json"))) == 1

      with subtest("restore-db by hand: the default config, credentials from /etc/homey/credentials"):
          machine.succeed("test -L /etc/homey/credentials/restic-password")
          machine.succeed("backup-hooks restore-db app --to /root/app.dump")
          machine.succeed("test -s /root/app.dump")

      with subtest("the staging directory is emptied after the run"):
          machine.succeed("test -z \"$(ls -A /var/lib/backup-hooks/staging 2>/dev/null)\"")
    '';
}

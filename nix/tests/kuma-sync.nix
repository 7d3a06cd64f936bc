# VM test: kuma-sync against the real Uptime Kuma from nixpkgs: set up the admin, create the monitors, and a
# second start with the same monitors changes nothing.
{ self }:
{
  name = "homey-kuma-sync";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];
      environment.systemPackages = [ pkgs.sqlite ];
      services.uptime-kuma.enable = true;
      environment.etc."kuma-password" = {
        text = "Homey-vm-test-passw0rd";
        mode = "0400";
      };
      homey.monitoring.monitors = [
        {
          name = "Kuma itself";
          url = "http://127.0.0.1:3001";
        }
        {
          name = "Kuma keyword";
          url = "http://127.0.0.1:3001";
          keyword = "Uptime Kuma";
          maxretries = 2;
        }
      ];
      homey.monitoring.kumaSync = {
        enable = true;
        username = "admin";
        passwordFile = "/etc/kuma-password";
        setup = true;
        after = [ "uptime-kuma.service" ];
        # A fresh Uptime Kuma migrates its database first, which takes a while in a VM.
        wait = 600;
      };
    };

  testScript = ''
    names = "sqlite3 /var/lib/uptime-kuma/kuma.db 'select name from monitor order by name'"
    machine.wait_for_unit("uptime-kuma.service")
    machine.wait_for_unit("kuma-sync.service")
    assert machine.succeed(names).strip().split("\n") == ["Kuma itself", "Kuma keyword"]

    with subtest("unchanged monitors: a restart changes nothing"):
        machine.succeed("systemctl restart kuma-sync.service")
        assert machine.succeed(names).strip().split("\n") == ["Kuma itself", "Kuma keyword"]

    with subtest("the password never reaches the journal"):
        machine.fail("journalctl -u kuma-sync.service | grep -F Homey-vm-test-passw0rd")
  '';
}

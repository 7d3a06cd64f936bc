# VM test: net-watchdog against a real gateway VM on the test network. Healthy: nothing happens. Gateway gone:
# the configured unit is restarted, and no reboot happens inside the boot grace -- the unit fails instead.
{ self }:
{
  name = "homey-net-watchdog";

  nodes.gateway = { ... }: { };

  nodes.machine =
    { nodes, pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];
      networking.defaultGateway = {
        address = nodes.gateway.networking.primaryIPAddress;
        interface = "eth1";
      };
      # Stands in for wpa_supplicant: counts its restarts.
      systemd.services.fake-wpa = {
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${pkgs.bash}/bin/sh -c 'echo started >> /var/lib/fake-wpa-starts'";
        };
        wantedBy = [ "multi-user.target" ];
      };
      homey.netWatchdog = {
        enable = true;
        interface = "eth1";
        restartUnit = "fake-wpa.service";
        settle = "2s";
        bootGrace = "1h";
        powerSaveOff = false;
      };
    };

  testScript = ''
    start_all()
    machine.wait_for_unit("multi-user.target")
    gateway.wait_for_unit("multi-user.target")
    machine.succeed("systemctl is-enabled net-watchdog.timer")

    with subtest("gateway up: healthy, nothing restarted"):
        machine.succeed("systemctl start net-watchdog.service")
        assert machine.succeed("wc -l < /var/lib/fake-wpa-starts").strip() == "1"

    with subtest("gateway gone: restart, then no reboot inside the boot grace"):
        gateway.shutdown()
        machine.fail("systemctl start net-watchdog.service")
        assert machine.succeed("wc -l < /var/lib/fake-wpa-starts").strip() == "2"
        machine.succeed("net-watchdog status --state-dir /var/lib/net-watchdog")
        # still the same boot
        machine.succeed("test -e /var/lib/fake-wpa-starts")
  '';
}

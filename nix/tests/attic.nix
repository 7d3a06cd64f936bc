# VM test: the Attic runtime config and the Nix daemon's netrc, rendered from credentials into /run, 0600,
# and gone when their units stop.
{ self }:
{
  name = "homey-attic";

  nodes.machine =
    { ... }:
    {
      imports = [ self.nixosModules.default ];
      environment.etc."attic-secret" = {
        # base64 of a throw-away HS256 secret
        text = "dGhyb3dhd2F5IHRlc3Qgc2VjcmV0IGZvciB0aGUgaG9tZXkgdm0gdGVzdA==";
        mode = "0400";
      };
      environment.etc."attic-token" = {
        # minted with the secret above: attic-token mint --sub vm-test --validity 10y --pull main
        text = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjIxMTEzNDIwMjgsIm5iZiI6MTc5NTc2NjAyOCwic3ViIjoidm0tdGVzdCIsImh0dHBzOi8vand0LmF0dGljLnJzL3YxIjp7ImNhY2hlcyI6eyJtYWluIjp7InIiOjF9fX19.INjTndHF2U21bhXG7JbvX8RuSOhOrhLTYKDsuVZywa8";
        mode = "0400";
      };
      homey.attic.server = {
        enable = true;
        secretFile = "/etc/attic-secret";
        settings = {
          listen = "[::]:8080";
          api-endpoint = "https://attic.example.com/";
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
      };
      homey.attic.client = {
        enable = true;
        endpoint = "https://attic.example.com/main";
        publicKey = "main:9SZt/6plBU7jjQzz90J7O011I13hmJvOMYouxNqExNQ=";
        tokenFile = "/etc/attic-token";
      };
    };

  testScript = ''
    machine.wait_for_unit("attic-config.service")
    machine.wait_for_unit("attic-netrc.service")

    with subtest("the server config carries the secret, 0600"):
        assert machine.succeed("stat -c %a /run/homey-attic/attic-config.toml").strip() == "600"
        config = machine.succeed("cat /run/homey-attic/attic-config.toml")
        assert "[jwt.signing]" in config, config
        assert "dGhyb3dhd2F5IHRlc3Qgc2VjcmV0IGZvciB0aGUgaG9tZXkgdm0gdGVzdA==" in config

    with subtest("the netrc names the cache's host, 0600, and Nix reads it"):
        assert machine.succeed("stat -c %a /run/homey-attic-netrc/netrc").strip() == "600"
        netrc = machine.succeed("cat /run/homey-attic-netrc/netrc")
        assert "machine attic.example.com" in netrc and "password eyJ" in netrc, netrc
        assert "/run/homey-attic-netrc/netrc" in machine.succeed("grep netrc-file /etc/nix/nix.conf")

    with subtest("secrets are never in the journal"):
        machine.fail("journalctl -u attic-config -u attic-netrc | grep -F dGhyb3dhd2F5")
        machine.fail("journalctl -u attic-config -u attic-netrc | grep -F INjTndHF2U21bhXG7JbvX8RuSOhOrhLTYKDsuVZywa8")

    with subtest("stopping removes the files"):
        machine.succeed("systemctl stop attic-config.service attic-netrc.service")
        machine.fail("test -e /run/homey-attic/attic-config.toml")
        machine.fail("test -e /run/homey-attic-netrc/netrc")
  '';
}

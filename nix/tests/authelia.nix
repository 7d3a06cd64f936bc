# Build-time checks of homey.authelia (no VM: the rules are rendered while the system is built). A good rule
# set renders and yields NIXOS_CONFIG_HASH; a bypass that shadows a two_factor rule fails the build with
# authelia-rules' message.
{
  self,
  nixpkgs,
  pkgs,
}:

let
  eval =
    rules:
    (nixpkgs.lib.nixosSystem {
      inherit (pkgs.stdenv.hostPlatform) system;
      modules = [
        self.nixosModules.default
        {
          boot.isContainer = true;
          system.stateVersion = "25.05";
          homey.authelia.accessControlRules = rules;
        }
      ];
    }).config.homey.authelia;

  good = eval {
    public = {
      priority = 0;
      domain = "status.example.com";
      policy = "bypass";
    };
    grafana-admins = {
      priority = 20;
      domain = "grafana.example.com";
      policy = "two_factor";
      subject = [ "group:admins" ];
    };
    grafana-deny = {
      priority = 21;
      domain = "grafana.example.com";
      policy = "deny";
    };
  };

  shadowing = eval {
    everything-open = {
      priority = 10;
      domain = "*.example.com";
      policy = "bypass";
    };
    grafana-admins = {
      priority = 20;
      domain = "grafana.example.com";
      policy = "two_factor";
      subject = [ "group:admins" ];
    };
  };
in
pkgs.runCommand "homey-authelia-checks"
  {
    failed = pkgs.testers.testBuildFailure shadowing.renderedRules;
  }
  ''
    grep -q 'access_control:' ${good.renderedRules}
    grep -Eq '^NIXOS_CONFIG_HASH=[0-9a-f]{64}$' ${good.configHashEnvFile}
    grep -qi 'grafana-admins' $failed/testBuildFailure.log
    touch $out
  ''

# Build-time checks of homey.authelia (no VM: the rules are rendered while the system is built). A good rule
# set renders and yields NIXOS_CONFIG_HASH; a bypass that shadows a two_factor rule fails the build with
# authelia-rules' message; the container gets the rendered rules mounted and listed last in X_AUTHELIA_CONFIG.
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
          homey.authelia.container = "authelia";
          virtualisation.oci-containers.containers.authelia.image = "authelia/authelia:4.38";
        }
      ];
    }).config;

  goodSystem = eval {
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

  good = goodSystem.homey.authelia;
  container = goodSystem.virtualisation.oci-containers.containers.authelia;

  shadowing = (eval {
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
  }).homey.authelia;
in
# The rules that were linted are the rules that run: mounted read-only, loaded after Authelia's own file.
assert builtins.elem "${good.renderedRules}:/config/homey-access-control.yml:ro" container.volumes;
assert container.environment.X_AUTHELIA_CONFIG == "/config/configuration.yml,/config/homey-access-control.yml";
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

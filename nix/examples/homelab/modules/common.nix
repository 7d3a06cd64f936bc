# What every host shares (unchanged by homey apart from the last lines): Nix settings, the podman network,
# sops defaults.
{ homeyConfig, ... }:
{
  time.timeZone = homeyConfig.timezone;
  virtualisation.oci-containers.backend = "podman";
  sops.defaultSopsFile = ../secrets/secrets.yaml;
  users.mutableUsers = false;
}

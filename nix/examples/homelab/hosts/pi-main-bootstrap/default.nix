# pi-main-bootstrap: the SD image for the first flash, unchanged. Migrated: how it is built and written --
# `sdimage build --flake ~/homelab` (builds nixosConfigurations.pi-main-bootstrap's sdImage and prints the
# image), then `sudo sdimage write IMAGE --device /dev/sdX` (refuses system disks, verifies what it wrote)
# instead of `nix build` + `zstd -dc | dd`.
{ modulesPath, ... }:
{
  imports = [ "${modulesPath}/installer/sd-card/sd-image-aarch64.nix" ];
  networking.hostName = "pi-main-bootstrap";
  system.stateVersion = "25.05";
}

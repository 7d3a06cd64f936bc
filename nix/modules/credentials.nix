# homey.credentials: every secret the units take, by credential name. Each unit that needs one gets it with
# LoadCredential=NAME:PATH, so the tool finds it as $CREDENTIALS_DIRECTORY/NAME; run by hand over SSH, the
# tools look in /etc/homey/credentials/NAME instead, which is a symlink to PATH here. The secret itself never
# enters the Nix store: only its path does, and the file keeps the owner and mode its source (sops-nix,
# agenix) gave it.
{ config, lib, ... }:

let
  inherit (lib) mkOption types;
  cfg = config.homey.credentials;
in
{
  options.homey.credentials = mkOption {
    # A path as a string, outside the store: a path literal would be copied into the store by "${...}".
    type = types.attrsOf (types.pathWith { inStore = false; absolute = true; });
    default = { };
    example = lib.literalExpression ''{ restic-password = config.sops.secrets."restic/password".path; }'';
    description = ''
      Secret files by credential name, filled in by the homey modules from their `*File` options (two modules
      naming one credential must agree on its file). Each is handed to the units that read it with
      `LoadCredential=`, and linked at `/etc/homey/credentials/<name>`, where the tools look when run by hand.
      Paths must be absolute strings outside the Nix store, which every user can read.
    '';
  };

  config = lib.mkIf (cfg != { }) {
    # Symlinks to the secrets' own paths: nothing is copied, and reading one takes the secret file's permissions.
    environment.etc = lib.mapAttrs' (
      name: path: lib.nameValuePair "homey/credentials/${name}" { source = path; }
    ) cfg;
  };
}

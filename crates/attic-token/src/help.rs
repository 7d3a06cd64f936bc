//! The end of each `--help`: the exit codes that command really returns, and examples.

pub const TOOL: &str = "\
Exit codes:
   0  ok
   1  inspect: the token is not usable; check: the server refused the token
   2  usage error
  65  a token file that is not one JWT
  69  check: the server cannot be reached or failed; keygen: openssl failed
  78  bad configuration: template, key, secret or token file, an output directory that does not exist

Each command's help lists its own exit codes and examples: attic-token help COMMAND.";

pub const MINT: &str = "\
Exit codes:
   0  minted: the token is on stdout or in --out
   2  usage: a bad --validity or cache pattern, an expiry past the year 262142
  78  no signing key, a bad one, an RS256 public key (it cannot sign), a bad --config, a secret file others
      can read, or --out in a directory that does not exist; nothing written

Examples:
  # A pull-only token for the Nix daemon, valid a year, from the credential attic-token-secret:
  attic-token mint --sub nix-daemon --validity 1y --pull main --out /run/attic/nix.token
  # CI may push to every team-* cache and create them, bound to the server's issuer/audiences:
  attic-token mint --sub ci --validity '3 months' --pull 'team-*' --push 'team-*' --create-cache 'team-*' \\
      --config /run/homey-attic/attic-config.toml
  # The claims only, unsigned (as atticadm make-token --dump-claims):
  attic-token mint --sub alice --validity 90d --pull main --dump-claims";

pub const INSPECT: &str = "\
Exit codes:
   0  usable: atticd would accept it now (with a key given: the signature holds)
   1  not usable: malformed, expired, not yet valid, or the signature does not hold
  78  the --secret-file cannot be read or is not a key

Examples:
  # Read a token from a file on stdin (keeps it off the command line):
  attic-token inspect - < /run/attic/nix.token
  # Check its signature with the server's key, as JSON:
  attic-token inspect - --secret-file /run/credentials/atticd.service/attic-token-secret --json < nix.token";

pub const CHECK: &str = "\
Exit codes:
   0  works: the server accepts the token for that cache
   1  refused (401, 403, 404, a redirect, an unexpected answer); the reason in words on stdout
   2  usage: --cache is not a cache name, --endpoint is not an http(s) URL
  65  the token file does not hold one JWT
  69  the server cannot be reached, or failed (5xx)
  78  the token file cannot be read, or other users can read it

Examples:
  attic-token check --endpoint https://attic.example.com/ --cache main --token-file /run/attic/nix.token
  attic-token check --endpoint http://127.0.0.1:8080/ --cache main --token-file ci.token --timeout 5s";

pub const RENDER_CONFIG: &str = "\
Exit codes:
   0  written, with the key under [jwt.signing]
   2  usage: --mode with bits for other users
  78  the template is one atticd would refuse (the line names the key and what atticd wants), no key or a bad
      one, or the output's directory does not exist; nothing written

Examples:
  # ExecStartPre= of atticd, with LoadCredential=attic-token-secret:… and RuntimeDirectory=homey-attic:
  attic-token render-config --template /etc/attic/server.toml --out /run/homey-attic/attic-config.toml
  # Readable by atticd's group:
  attic-token render-config --template server.toml --out /run/homey-attic/attic-config.toml --mode 0640";

pub const NETRC: &str = "\
Exit codes:
   0  the host's entry added or replaced; every other byte kept
   2  usage: --host is not a bare host name, --login is not one word
  65  the token file does not hold one JWT, or the netrc is not text
  78  the token file cannot be read or others can read it, or the netrc's directory does not exist

Examples:
  attic-token netrc --host attic.example.com --token-file /run/attic/nix.token --out /etc/nix/netrc
  attic-token netrc --host attic.example.com --token-file ci.token --out ~/.config/nix/netrc --login ci";

pub const KEYGEN: &str = "\
Exit codes:
   0  written, mode 0600
   2  usage: the file exists (and no --force), --bits outside 2048..4096
  69  openssl is missing or failed (rs256)
  78  the new key does not read back as attic reads keys, or the directory does not exist

Examples:
  attic-token keygen --algorithm hs256 --out /etc/homey/credentials/attic-token-secret
  # For atticd's EnvironmentFile (ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64=\"…\"):
  attic-token keygen --algorithm rs256 --env-file --out /etc/homey/credentials/attic-token-secret";

//! The manual: under each command's `--help` (and in its man page), the exit codes that command really
//! returns, and examples.

use homey_kit::Exit;
use homey_kit::manual::Page;

pub const MANUAL: &[Page] = &[
    Page {
        command: "",
        exits: &[
            (Exit::Ok, "ok"),
            (Exit::Failed, "inspect: the token is not usable; check: the server refused the token"),
            (Exit::Usage, "usage error: the command line is wrong; nothing was done"),
            (Exit::BadInput, "a token file that is not one JWT"),
            (Exit::Unavailable, "check: the server cannot be reached or failed; keygen: openssl failed"),
            (
                Exit::Config,
                "bad configuration: template, key, secret or token file, an output directory that does not exist",
            ),
        ],
        examples: &[
            ("Each command's own exit codes and examples", "attic-token help mint"),
            ("A pull-only token for the Nix daemon", "attic-token mint --sub nix-daemon --validity 1y --pull main"),
        ],
    },
    Page {
        command: "mint",
        exits: &[
            (Exit::Ok, "minted: the token is on stdout or in --out"),
            (Exit::Usage, "usage: a bad --validity or cache pattern, an expiry past the year 262142"),
            (
                Exit::Config,
                "no signing key, a bad one, an RS256 public key (it cannot sign), a bad --config, a secret file \
                 others can read, or --out in a directory that does not exist; nothing written",
            ),
        ],
        examples: &[
            (
                "A pull-only token for the Nix daemon, valid a year, key from the credential attic-token-secret",
                "attic-token mint --sub nix-daemon --validity 1y --pull main --out /run/attic/nix.token",
            ),
            (
                "CI may push to every team-* cache and create them, bound to the server's issuer and audiences",
                "attic-token mint --sub ci --validity '3 months' --pull 'team-*' --push 'team-*' --create-cache 'team-*' --config /run/homey-attic/attic-config.toml",
            ),
            (
                "The claims only, unsigned (as atticadm make-token --dump-claims)",
                "attic-token mint --sub alice --validity 90d --pull main --dump-claims",
            ),
        ],
    },
    Page {
        command: "inspect",
        exits: &[
            (Exit::Ok, "usable: atticd would accept it now (with a key given: the signature holds)"),
            (Exit::Failed, "not usable: malformed, expired, not yet valid, or the signature does not hold"),
            (
                Exit::Config,
                "the --secret-file or --token-file cannot be read, others can read it, or the key is not a key",
            ),
        ],
        examples: &[
            ("A token file", "attic-token inspect --token-file /run/attic/nix.token"),
            ("The token on stdin (never on the command line: other users see it)", "attic-token inspect -"),
            (
                "Its signature checked with the server's key, as JSON",
                "attic-token inspect --token-file nix.token --secret-file /etc/homey/credentials/attic-token-secret --json",
            ),
        ],
    },
    Page {
        command: "check",
        exits: &[
            (Exit::Ok, "works: the server accepts the token for that cache"),
            (Exit::Failed, "refused (401, 403, 404, a redirect, an unexpected answer); the reason in words on stdout"),
            (Exit::Usage, "usage: --cache is not a cache name, --endpoint is not an http(s) URL"),
            (Exit::BadInput, "the token file does not hold one JWT"),
            (Exit::Unavailable, "the server cannot be reached, or failed (5xx)"),
            (Exit::Config, "the token file cannot be read, or other users can read it"),
        ],
        examples: &[
            (
                "Does the Nix daemon's token still work?",
                "attic-token check --endpoint https://attic.example.com/ --cache main --token-file /run/attic/nix.token",
            ),
            (
                "Against atticd itself, giving up after 5 s",
                "attic-token check --endpoint http://127.0.0.1:8080/ --cache main --token-file ci.token --timeout 5s",
            ),
        ],
    },
    Page {
        command: "render-config",
        exits: &[
            (Exit::Ok, "written, with the key under [jwt.signing]"),
            (Exit::Usage, "usage: --mode with bits for other users"),
            (
                Exit::Config,
                "the template is one atticd would refuse (the line names the key and what atticd wants), no key \
                 or a bad one, or the output's directory does not exist; nothing written",
            ),
        ],
        examples: &[
            (
                "ExecStartPre= of atticd, with LoadCredential=attic-token-secret:… and RuntimeDirectory=homey-attic",
                "attic-token render-config --template /etc/attic/server.toml --out /run/homey-attic/attic-config.toml",
            ),
            (
                "Readable by atticd's group",
                "attic-token render-config --template server.toml --out /run/homey-attic/attic-config.toml --mode 0640",
            ),
        ],
    },
    Page {
        command: "netrc",
        exits: &[
            (Exit::Ok, "the host's entry added or replaced; every other byte kept"),
            (Exit::Usage, "usage: --host is not a bare host name, --login is not one word"),
            (Exit::BadInput, "the token file does not hold one JWT, or the netrc is not text"),
            (
                Exit::Config,
                "the token file cannot be read or others can read it, or the netrc's directory does not exist",
            ),
        ],
        examples: &[
            (
                "The Nix daemon's netrc (netrc-file in nix.conf)",
                "attic-token netrc --host attic.example.com --token-file /run/attic/nix.token --out /etc/nix/netrc",
            ),
            (
                "A user's own, with another login",
                "attic-token netrc --host attic.example.com --token-file ci.token --out ~/.config/nix/netrc --login ci",
            ),
        ],
    },
    Page {
        command: "keygen",
        exits: &[
            (Exit::Ok, "written, mode 0600"),
            (Exit::Usage, "usage: the file exists (and no --force), --bits outside 2048..4096"),
            (Exit::Unavailable, "openssl is missing or failed (rs256)"),
            (Exit::Config, "the new key does not read back as attic reads keys, or the directory does not exist"),
        ],
        examples: &[
            ("An HMAC secret", "attic-token keygen --algorithm hs256 --out /etc/homey/credentials/attic-token-secret"),
            (
                "An RSA key for atticd's EnvironmentFile (ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64=\"…\")",
                "attic-token keygen --algorithm rs256 --env-file --out /etc/homey/credentials/attic-token-secret",
            ),
        ],
    },
];

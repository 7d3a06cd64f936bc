//! kuma-sync's manual: each command's exit codes and examples, under its `--help` and in its man page.

use homey_kit::Exit;
use homey_kit::manual::Page;

pub const MANUAL: &[Page] = &[
    Page {
        command: "",
        exits: &[
            (Exit::Ok, "ok"),
            (Exit::Failed, "sync: the server refused some changes (the others were made)"),
            (Exit::BadInput, "the monitors file is wrong; nothing was written"),
            (Exit::Unavailable, "Uptime Kuma did not answer within --wait"),
            (Exit::TryAgain, "try again: rate-limited login, a connection that kept dropping, a signal, the lock held"),
            (Exit::Config, "bad configuration: credentials, a missing secret, a fresh server without --setup"),
        ],
        examples: &[
            ("Each command's own exit codes and examples", "kuma-sync help sync"),
            ("What a sync would change, without writing", "kuma-sync plan --monitors monitors.json --username admin"),
        ],
    },
    Page {
        command: "sync",
        exits: &[
            (
                Exit::Ok,
                "in sync (or the file is unchanged since the last full sync: nothing done, not even a connection)",
            ),
            (
                Exit::Failed,
                "the server refused some changes; the others were made, each failure logged; no hash stored",
            ),
            (
                Exit::BadInput,
                "the file is wrong (one line: file, entry, field), or names what the server lacks; nothing written",
            ),
            (
                Exit::Unavailable,
                "Uptime Kuma did not answer within --wait (at the start, or reconnecting mid-sync); no hash",
            ),
            (
                Exit::TryAgain,
                "rate-limited login, a connection that kept dropping, SIGTERM, or another run holds the lock; no hash",
            ),
            (
                Exit::Config,
                "bad login or 2FA account, no password, a credential the file names is missing, a fresh server without --setup, an https:// URL",
            ),
        ],
        examples: &[
            ("The unit's run", "kuma-sync sync --monitors /etc/homey/monitors.json --username admin"),
            (
                "Compare everything even though the file has not changed, as JSON",
                "kuma-sync sync --monitors monitors.json --username admin --force --json",
            ),
            (
                "A fresh Uptime Kuma: create the admin first, keep what is no longer declared",
                "kuma-sync sync --monitors monitors.json --username admin --setup --no-prune",
            ),
        ],
    },
    Page {
        command: "plan",
        exits: &[
            (Exit::Ok, "the plan is printed (nothing written, no state directory created)"),
            (Exit::BadInput, "the file is wrong, or names what the server lacks"),
            (Exit::Unavailable, "Uptime Kuma did not answer within --wait"),
            (Exit::TryAgain, "the login was rate-limited, or a signal stopped it"),
            (Exit::Config, "bad login, no password, a credential the file names is missing"),
        ],
        examples: &[
            ("What sync would change", "kuma-sync plan --monitors monitors.json --username admin"),
            ("The same as data", "kuma-sync plan --monitors monitors.json --username admin --json"),
        ],
    },
    Page {
        command: "export",
        exits: &[
            (
                Exit::Ok,
                "the file is written (to stdout or --out); monitors of types kuma-sync does not declare are named on stderr",
            ),
            (Exit::Unavailable, "Uptime Kuma did not answer within --wait"),
            (Exit::TryAgain, "the login was rate-limited, or the connection was lost"),
            (Exit::Config, "bad login, no password, an --out or --secrets-dir directory that does not exist"),
        ],
        examples: &[
            (
                "The server as a file, secrets named but not written",
                "kuma-sync export --username admin --out monitors.json",
            ),
            (
                "Adopt an installation: the file and its secrets, where the unit reads credentials",
                "kuma-sync export --username admin --out monitors.json --secrets-dir /etc/homey/credentials",
            ),
        ],
    },
    Page {
        command: "validate",
        exits: &[
            (Exit::Ok, "the file passes every offline check"),
            (Exit::BadInput, "the file is wrong: one line naming the file, the entry and the field"),
        ],
        examples: &[
            ("Check a file before deploying it", "kuma-sync validate monitors.json"),
            ("The file NixOS renders", "kuma-sync validate /etc/homey/monitors.json"),
        ],
    },
];

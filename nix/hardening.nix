# The sandbox of every homey unit, as plain data (no nixpkgs needed).
#
# The NixOS module merges `units.<name>` into each unit's serviceConfig, and `cargo xtask test` evaluates this
# file and checks that contrib/systemd/<name>.service carries exactly the same settings, so the units for
# NixOS and for other hosts cannot drift apart. NixOS writes a boolean as true/false (contrib/ writes yes/no;
# systemd reads both, and the check compares them as booleans) and a list as one line per element.
let
  # What every unit gets: no new privileges, a read-only system, private /tmp and devices, no kernel or
  # clock tinkering, the system-service syscall set, files created 0600.
  base = {
    UMask = "0077";
    NoNewPrivileges = true;
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateMounts = true;
    PrivateIPC = true;
    ProtectHostname = true;
    ProtectClock = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectProc = "invisible";
    ProcSubset = "pid";
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    RemoveIPC = true;
    KeyringMode = "private";
    DevicePolicy = "closed";
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged @resources"
    ];
    SystemCallErrorNumber = "EPERM";
  };

  # A throw-away user with no capabilities at all.
  dynamic = base // {
    DynamicUser = true;
    PrivateUsers = true;
  };

  # Reads a template and a credential, writes one file: no network of any kind.
  offline = dynamic // {
    PrivateNetwork = true;
    RestrictAddressFamilies = "none";
    IPAddressDeny = "any";
  };
in
{
  inherit base;

  # backup.service when nothing in the job needs root (no Nextcloud maintenance mode, pg_dump connecting as
  # its own role instead of running as postgres, no SQLite file to copy): a throw-away user that keeps only
  # CAP_DAC_READ_SEARCH, restic's documented non-root mode, so it still reads every file it backs up.
  # No PrivateUsers: a capability inside a user namespace would not reach the host's files.
  backupUnprivileged = base // {
    DynamicUser = true;
    User = "backup-hooks";
    CapabilityBoundingSet = "CAP_DAC_READ_SEARCH";
    AmbientCapabilities = "CAP_DAC_READ_SEARCH";
    ProtectHome = "read-only";
    RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
  };

  units = rec {
    # Talks to Uptime Kuma on loopback; the module widens IPAddressAllow when the URL points elsewhere.
    kuma-sync = dynamic // {
      RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
      IPAddressDeny = "any";
      IPAddressAllow = "localhost";
    };

    # Root, because the job becomes other users: occ runs as nextcloud (NixOS's nextcloud-occ goes through
    # sudo) and pg_dump as postgres (runuser), which takes CAP_SETUID/CAP_SETGID and the setuid family of
    # @privileged -- a non-root user cannot get there without them, and sudo as non-root is a setuid binary
    # that NoNewPrivileges= stops. A SQLite database in WAL mode is read through -shm/-wal files the reader
    # may have to write, which CAP_DAC_READ_SEARCH does not allow. Of root's powers it keeps only reading
    # past file permissions and changing user; everything else (mounts, modules, raw I/O, ptrace, the
    # clock, kernel tunables, new namespaces, realtime, SUID files) stays forbidden. Without any of these
    # jobs the module runs it as backupUnprivileged above instead. Home directories may be backed up, so
    # they are read-only, not hidden.
    # No MemoryDenyWriteExecute: occ is PHP, whose PCRE JIT maps writable-executable memory. @resources stays
    # allowed: sudo (NixOS's occ wrapper reaches the nextcloud user through it) and restic set resource limits.
    backup =
      builtins.removeAttrs
        (base // {
          CapabilityBoundingSet = "CAP_DAC_READ_SEARCH CAP_SETUID CAP_SETGID";
          ProtectHome = "read-only";
          RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
          SystemCallFilter = [
            "@system-service"
            "~@mount @swap @reboot @raw-io @module @obsolete @cpu-emulation @debug"
          ];
        })
        [ "MemoryDenyWriteExecute" ];

    # Root only because systemd lets root restart wpa_supplicant and ask for a reboot through systemctl;
    # raw ICMP bound to the interface needs CAP_NET_RAW, power save CAP_NET_ADMIN. /proc/net/route and
    # /proc/uptime are not per-process files, so no ProcSubset=pid.
    net-watchdog =
      builtins.removeAttrs
        (base // {
          CapabilityBoundingSet = "CAP_NET_RAW CAP_NET_ADMIN";
          RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6 AF_NETLINK";
        })
        [ "ProcSubset" ];

    # The same job's other half (restic copy to a local disk), with the same config: the same sandbox.
    backup-offload = backup;

    # nl80211's power-save switch wants CAP_NET_ADMIN and nothing else.
    "net-watchdog-power-save@" = base // {
      DynamicUser = true;
      CapabilityBoundingSet = "CAP_NET_ADMIN";
      AmbientCapabilities = "CAP_NET_ADMIN";
      RestrictAddressFamilies = "AF_NETLINK";
      IPAddressDeny = "any";
    };

    attic-config = offline;
    attic-netrc = offline;
  };
}

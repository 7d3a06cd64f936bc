# The sandbox of every homey unit, as plain data (no nixpkgs needed).
#
# The NixOS module merges `units.<name>` into each unit's serviceConfig, and `cargo xtask test` evaluates this
# file and checks that contrib/systemd/<name>.service carries exactly the same settings, so the units for
# NixOS and for other hosts cannot drift apart. Values are written the way NixOS renders them: booleans
# become yes/no, a list becomes one line per element.
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

  units = {
    # Talks to Uptime Kuma on loopback; the module widens IPAddressAllow when the URL points elsewhere.
    kuma-sync = dynamic // {
      RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
      IPAddressDeny = "any";
      IPAddressAllow = "localhost";
    };

    # Root because it must read everything it backs up; of root's powers it keeps reading past file
    # permissions and becoming the service users (occ as nextcloud, pg_dump as postgres), which needs the
    # setuid family of @privileged. Home directories may be backed up, so they are read-only, not hidden.
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

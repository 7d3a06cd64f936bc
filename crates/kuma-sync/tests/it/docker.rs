//! Docker hosts and `docker` monitors: the homelab's Podman socket declared beside the monitors that
//! watch its containers, by name; on 1.23 and 2.x.

use crate::{Env, PASSWORD, USER};
use test_support::kuma::{Flavor, Kuma};

const FILE: &str = r#"{
  "docker_hosts": [{"name": "podman", "type": "socket", "daemon": "/run/podman/podman.sock"}],
  "monitors": [
    {"name": "Nextcloud container", "type": "docker", "docker_container": "nextcloud", "docker_host": "podman"},
    {"name": "Web", "url": "https://web.example.com"}
  ]
}"#;

fn docker(flavor: Flavor) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    env.monitors(FILE);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.starts_with("+ create docker host podman\n"), "{}", run.stdout);
    let hosts = env.kuma.docker_hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(
        (hosts[0].1.as_str(), hosts[0].2.as_str(), hosts[0].3.as_str()),
        ("podman", "socket", "/run/podman/podman.sock")
    );
    let m = env.monitor("Nextcloud container");
    assert_eq!((m["type"].as_str(), m["docker_container"].as_str()), (Some("docker"), Some("nextcloud")));
    assert_eq!(m["docker_host"], hosts[0].0);

    // Nothing changed: nothing written; a lost state directory creates nothing twice.
    let writes = env.writes();
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 3 unchanged\n");
    std::fs::remove_dir_all(env.path("state")).unwrap();
    env.sync(&[]).expect(0);
    assert_eq!(env.writes(), writes);
    assert_eq!(env.kuma.docker_hosts().len(), 1);

    // The socket moves: the host is updated in place, its monitor keeps it.
    env.monitors(&FILE.replace("/run/podman/podman.sock", "/run/user/1000/podman/podman.sock"));
    let run = env.sync(&[]);
    run.expect(0);
    assert!(
        run.stdout.contains(
            r#"~ update docker host podman: daemon "/run/podman/podman.sock" → "/run/user/1000/podman/podman.sock""#
        ),
        "{}",
        run.stdout
    );
    assert_eq!(env.kuma.docker_hosts()[0].0, hosts[0].0);
    // No longer declared: never deleted (the server has no place to mark it as ours); the monitor that
    // becomes an http monitor loses its container and host.
    env.monitors(r#"[{"name": "Nextcloud container", "url": "https://cloud.example.com"}, {"name": "Web", "url": "https://web.example.com"}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("docker_host podman → none"), "{}", run.stdout);
    let m = env.monitor("Nextcloud container");
    assert!(m["docker_host"].is_null() && m["docker_container"].is_null(), "{m}");
    assert_eq!(env.kuma.docker_hosts().len(), 1);
    env.assert_forced_sync_writes_nothing();
}

#[test]
fn docker_hosts_and_docker_monitors_converge_2x() {
    docker(Flavor::V2);
}

#[test]
fn docker_hosts_and_docker_monitors_converge_1_23() {
    docker(Flavor::V1);
}

#[test]
fn a_docker_monitor_may_use_a_host_made_by_hand_but_not_one_that_exists_nowhere() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    let made = env.kuma.insert_docker_host("nas", "tcp", "tcp://10.0.0.2:2375");
    env.monitors(r#"[{"name": "C", "type": "docker", "docker_container": "c", "docker_host": "nas"}]"#);
    env.sync(&[]).expect(0);
    assert_eq!(env.monitor("C")["docker_host"], made);
    env.monitors(r#"[{"name": "C", "type": "docker", "docker_container": "c", "docker_host": "podman"}]"#);
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"entry 1 ("C"): field "docker_host": neither the file nor the server has a docker host named "podman" (the server has: nas)"#),
        "{}",
        run.stderr
    );
}

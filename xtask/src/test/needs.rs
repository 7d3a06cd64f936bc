//! The tests `cargo xtask test` leaves out, by name, on a machine that lacks what they need.
//!
//! A test belongs here when it cannot check what it names without something the Debian packages do not give:
//! root for loop devices or namespaces, a kernel that shows loop partitions, the shared conformance data. Such
//! a test also calls `test_support::need(&[…])` first, with the same needs, so that run any other way it fails
//! instead of passing without checking anything. The run prints each left-out test and why; a name here that
//! matches no test is an error (a renamed test must not fall out of the suite unnoticed).

use crate::need::Need::{self, *};

pub struct LeftOut {
    /// The test binary as nextest names it: `package::it` for a crate's integration tests.
    pub binary: &'static str,
    /// A test's full name (`module::test`), or a module path ending in `::` for every test under it.
    pub test: &'static str,
    pub needs: &'static [Need],
}

const fn out(binary: &'static str, test: &'static str, needs: &'static [Need]) -> LeftOut {
    LeftOut { binary, test, needs }
}

pub const TABLE: &[LeftOut] = &[
    out("authelia-rules::it", "conformance::", &[SharedConformance]),
    out("authelia-rules::it", "cli::rendered_output_is_accepted_by_authelias_schema", &[SharedConformance]),
    out("backup-hooks::it", "faults::a_full_disk_during_a_dump_leaves_no_dump_and_no_snapshot", &[MountNamespace]),
    out("homey-kit::it", "state::a_run_as_root_leaves_its_files_to_the_state_directorys_owner", &[Root]),
    out("net-watchdog::it", "check::", &[NetNamespaces]),
    out(
        "net-watchdog::it",
        "by_hand::a_dry_run_by_hand_needs_no_state_directory_and_creates_nothing",
        &[NetNamespaces],
    ),
    out("sdimage::it", "devices::writes_a_zst_image_for_real_and_verify_catches_a_corrupted_byte", &[LoopDevices]),
    out("sdimage::it", "devices::raw_image_without_verify_and_the_summary", &[LoopDevices]),
    out("sdimage::it", "devices::refusals_on_real_devices_write_nothing", &[LoopDevices]),
    out("sdimage::it", "devices::a_partition_is_refused", &[LoopDevices, LoopPartitions]),
    out("sdimage::it", "devices::a_device_held_by_another_program_is_busy", &[LoopDevices]),
    out("sdimage::it", "devices::confirmation_wants_the_device_name", &[LoopDevices]),
    out("sdimage::it", "devices::a_truncated_image_leaves_a_card_that_does_not_boot", &[LoopDevices]),
    out("sdimage::it", "devices::a_mounted_disk_is_refused", &[LoopDevices, MkfsExt4, MountNamespace]),
    out("sdimage::it", "devices::ctrl_c_stops_the_write_and_says_the_card_does_not_boot", &[LoopDevices]),
    out("sdimage::it", "devices::a_terminal_gets_a_progress_bar_with_rate_and_eta", &[LoopDevices, Script]),
];

impl LeftOut {
    pub fn matches(&self, binary: &str, test: &str) -> bool {
        binary == self.binary && if self.test.ends_with("::") { test.starts_with(self.test) } else { test == self.test }
    }

    /// The nextest filterset naming these tests.
    pub fn filterset(&self) -> String {
        if self.test.ends_with("::") {
            format!("(binary_id({}) & test(/^{}/))", self.binary, self.test)
        } else {
            format!("(binary_id({}) & test(={}))", self.binary, self.test)
        }
    }
}

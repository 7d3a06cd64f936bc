//! How kuma-sync marks what it manages on the server (every kind's mark lives here), and the one helper both the file's side and the
//! server's side use to order groups. Ownership lives on the server, not in local state: losing the state
//! directory never makes kuma-sync create something twice or forget what it may delete.

/// The tag that marks a monitor as kuma-sync's.
pub const OWNER_TAG: &str = "managed-by";
pub const OWNER_VALUE: &str = "kuma-sync";
pub const OWNER_COLOR: &str = "#2563EB";
/// The key in a notification's config that marks it as kuma-sync's (value [`OWNER_VALUE`]): providers
/// ignore keys they do not know, and the web UI saves the config back whole, so the mark survives an edit.
pub const NOTIFICATION_KEY: &str = "managedBy";
/// The comment at the end of a status page's custom CSS that marks it as kuma-sync's (invisible to visitors).
pub const STATUS_PAGE_MARK: &str = "/* managed-by: kuma-sync */";
/// The last line of a maintenance window's description that marks it as kuma-sync's: a window has no other
/// free field, so the mark is where a person can read it.
pub const MAINTENANCE_MARK: &str = "(managed by kuma-sync)";
// Docker hosts carry no mark: the server keeps only their name, type and daemon, so they are never deleted.

/// The colour of the other tags kuma-sync creates because the file names them.
pub const NEW_TAG_COLOR: &str = "#6B7280";

/// How many parents lie above an item (0 for a top-level one), following `parent_of`; a cycle stops
/// after `limit` steps instead of looping.
pub fn depth<K: Copy>(start: Option<K>, limit: usize, parent_of: impl Fn(K) -> Option<K>) -> usize {
    let mut d = 0;
    let mut cur = start;
    while let Some(p) = cur {
        d += 1;
        if d > limit {
            break;
        }
        cur = parent_of(p);
    }
    d
}

//! How kuma-sync marks what it manages on the server, and the one helper both the file's side and the
//! server's side use to order groups. Ownership lives on the server, not in local state: losing the state
//! directory never makes kuma-sync create something twice or forget what it may delete.

/// The tag that marks a monitor as kuma-sync's.
pub const OWNER_TAG: &str = "managed-by";
pub const OWNER_VALUE: &str = "kuma-sync";
pub const OWNER_COLOR: &str = "#2563EB";
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

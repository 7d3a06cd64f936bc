//! homey-kit's integration tests: what only a real process shows.

mod pipe;
mod state;

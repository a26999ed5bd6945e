//! Observers that watch the server while a strategy runs, on their own connections: the lock
//! sampler (who waits for which lock, behind whom). Sessions are told apart by their
//! `application_name`, which rehearse sets on every connection it opens.

mod locks;

pub use locks::{Sampler, step_waits};

/// `application_name` of the connection that runs the migration steps.
pub const MIGRATION: &str = "rehearse migration";
/// `application_name` of traffic connections.
pub const TRAFFIC: &str = "rehearse traffic";
/// `application_name` prefix of background sessions (followed by the session's name).
pub const BACKGROUND: &str = "rehearse background: ";
/// `application_name` of observer connections.
pub const OBSERVER: &str = "rehearse observer";

/// The role of a session, from its `application_name`.
pub fn role_of(application_name: &str) -> &'static str {
    if application_name == MIGRATION {
        "migration"
    } else if application_name == TRAFFIC {
        "traffic"
    } else if application_name.starts_with(BACKGROUND) {
        "background"
    } else if application_name == OBSERVER {
        "observer"
    } else {
        "other"
    }
}

//! Postgres concepts as types, shared by every part: lock modes and lock types
//! ([`LockMode`], [`LockType`]), who a session is ([`SessionRole`], from the
//! `application_name` rehearse sets), relation kinds ([`RelKind`]), what a migration can leave
//! behind ([`LeftoverKind`]), error classes by SQLSTATE ([`ErrorClass`]), the server's errors
//! ([`ServerError`]), identifiers ([`quote_ident`]), SQL text split as psql would ([`split`])
//! and captured statement logs read into sessions to replay ([`capture`]).
//!
//! Nothing here talks to a server; the types carry the names Postgres itself uses (and
//! `report.json` keeps those names), so no part compares strings to know what a lock is.

pub(crate) mod capture;
mod catalog;
mod error_class;
mod ident;
mod lock;
mod role;
mod server_error;
pub mod split;

pub use catalog::{LeftoverKind, RelKind};
pub use error_class::ErrorClass;
pub use ident::quote_ident;
pub use lock::{LockMode, LockType};
pub use role::SessionRole;
pub use server_error::{ServerError, describe, describe_in, is_environment_failure};

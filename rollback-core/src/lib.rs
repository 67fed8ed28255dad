//! Core of rollback.
pub mod judge;

//! Core of rollback.

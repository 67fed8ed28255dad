//! rollback facade.
pub use rollback_core::*;

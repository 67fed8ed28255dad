//! Built-in checks usable as gates and smoke tests. (The HTTP check lives in the `rollback`
//! facade, so that this crate needs no HTTP client.)

mod tcp;

pub use tcp::TcpCheck;

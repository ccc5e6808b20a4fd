//! The N-API surface: plain data in, plain data out. The only module that uses napi.

pub mod pxp;
pub mod upnp;

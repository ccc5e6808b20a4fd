//! Loopback routers for the unit tests (never built into the library).

pub mod model_router;
pub mod router;

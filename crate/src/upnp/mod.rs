//! UPnP IGD: find gateways with SSDP, read their descriptions, drive them with SOAP.

pub mod actions;
pub mod boot;
pub mod charset;
pub mod connections;
pub mod description;
pub mod device;
pub mod discovery;
pub mod from_url;
pub mod http;
pub mod http_reply;
mod http_trace;
pub mod leftovers;
pub mod link;
pub mod link_policy;
#[cfg(test)]
mod link_tests;
pub mod notify;
pub mod pinholes;
pub mod replies;
pub mod search;
pub mod search_plan;
pub mod soap;
pub mod ssdp;
#[cfg(test)]
pub mod test_model_router;
#[cfg(test)]
pub mod test_router;
pub mod xml_scan;

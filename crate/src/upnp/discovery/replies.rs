//! The devices a discovery has found so far, built from the search replies as they arrive:
//! one device per description URL, named (`service_type`) by its best reply rather than its
//! first, root-device answers kept only when no gateway search was answered (Godot's order),
//! and the gateway this machine routes through listed first.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use crate::errors::Failure;
use crate::limits::{MAX_DEVICES, MAX_DEVICES_PER_RESPONDER};
use crate::upnp::device::DeviceInfo;
use crate::upnp::discovery::boot;
use crate::upnp::discovery::search::{self, Plan, ReplyKind};
use crate::upnp::discovery::ssdp::{self, LocalView, Location, SearchReply};

struct Found {
    device: DeviceInfo,
    /// `search::rank` of `service_type`: a better reply from the same device replaces it.
    rank: usize,
    service_type: String,
    /// Only root-device answers so far: dropped if any gateway search was answered.
    fallback: bool,
    responder: IpAddr,
    /// IPv6: the address whose reply named this one (Location::AskHost), for the default
    /// route's order (routers answer from their link-local gateway address).
    named_by: Option<IpAddr>,
}

pub struct Replies {
    plan: Plan,
    filter: String,
    local: LocalView,
    /// Per responder: a host asked to vouch for itself repeats what another address said.
    seen: HashSet<(IpAddr, String, String, String)>,
    /// IPv6 hosts asked to vouch for a LOCATION on them, and who named them.
    asked: HashMap<IpAddr, IpAddr>,
    /// Hosts to ask now (unicast M-SEARCH), taken by the discovery loop.
    to_ask: Vec<(IpAddr, String)>,
    devices_from: HashMap<IpAddr, usize>,
    index_by_location: HashMap<String, usize>,
    found: Vec<Found>,
    /// Valid search replies, before filtering and de-duplication.
    count: usize,
    /// Of those, answers to the gateway searches (any reply under `Plan::All`).
    primary: usize,
}

impl Replies {
    pub fn new(plan: Plan, filter: &str, local: LocalView) -> Self {
        Self {
            plan,
            filter: filter.to_string(),
            local,
            seen: HashSet::new(),
            asked: HashMap::new(),
            to_ask: Vec::new(),
            devices_from: HashMap::new(),
            index_by_location: HashMap::new(),
            found: Vec::new(),
            count: 0,
            primary: 0,
        }
    }

    /// How many valid replies arrived (NO_DEVICES when none).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Records one reply. Returns the device to classify when the reply names one not seen
    /// before (and `new_devices` allows it); a known device may get a better `service_type`.
    pub fn accept(
        &mut self,
        reply: SearchReply,
        from: SocketAddr,
        new_devices: bool,
    ) -> Option<(usize, DeviceInfo)> {
        self.count += 1;
        // A retransmitted search brings the same replies again.
        if !self.seen.insert((
            from.ip(),
            reply.usn.clone(),
            reply.location.clone(),
            reply.st.clone(),
        )) {
            return None;
        }
        // Godot stops at the first search type answered, before its filter looks at anything.
        let kind = self.plan.kind(&reply.st);
        match kind {
            ReplyKind::Primary => self.primary += 1,
            ReplyKind::Fallback if self.primary > 0 => return None,
            ReplyKind::Fallback => {}
        }
        if !self.filter.is_empty() && !reply.st.contains(&self.filter) {
            return None;
        }
        let description_url = match ssdp::judge_location(&reply.location, from, &self.local) {
            Location::Trusted(url) => url,
            Location::AskHost(host) => {
                if !self.asked.contains_key(&host)
                    && self.asked.len() < MAX_DEVICES_PER_RESPONDER * 4
                {
                    self.asked.insert(host, from.ip());
                    self.to_ask.push((host, reply.st));
                }
                return None;
            }
            Location::Refused(_) => return None,
        };
        let rank = search::rank(&reply.st);
        // One device per description: a router answering several searches is one router.
        if let Some(&index) = self.index_by_location.get(&description_url) {
            let found = &mut self.found[index];
            found.fallback &= kind == ReplyKind::Fallback;
            if rank < found.rank {
                found.rank = rank;
                found.service_type = reply.st;
            }
            return None;
        }
        if !new_devices || !self.admit_device(from.ip()) {
            return None;
        }
        let mut device = DeviceInfo::unclassified(description_url.clone(), reply.st.clone());
        device.server = reply.server;
        device.boot_id = reply.boot_id;
        device.resets = match reply.boot_id {
            Some(id) => boot::observe(&reply.usn, &description_url, id).resets,
            None => boot::resets(&reply.usn, &description_url),
        };
        let index = self.found.len();
        self.index_by_location.insert(description_url, index);
        self.found.push(Found {
            device: device.clone(),
            rank,
            service_type: reply.st,
            fallback: kind == ReplyKind::Fallback,
            responder: from.ip(),
            named_by: self.asked.get(&from.ip()).copied(),
        });
        Some((index, device))
    }

    /// Whether a new device announced by `ip` is kept (limits.rs: per responder, in all).
    fn admit_device(&mut self, ip: IpAddr) -> bool {
        let from_ip = self.devices_from.entry(ip).or_default();
        if *from_ip >= MAX_DEVICES_PER_RESPONDER || self.found.len() >= MAX_DEVICES {
            return false;
        }
        *from_ip += 1;
        true
    }

    /// IPv6 hosts to ask with a unicast M-SEARCH (and the ST to ask for), since last taken.
    pub fn take_asks(&mut self) -> Vec<(IpAddr, String)> {
        std::mem::take(&mut self.to_ask)
    }

    /// The devices found through one of `gateways` (the default route's).
    pub fn devices_via<'a>(
        &'a self,
        gateways: &'a [IpAddr],
    ) -> impl Iterator<Item = &'a DeviceInfo> {
        self.found
            .iter()
            .filter(|f| on_route(f, gateways))
            .map(|f| &f.device)
    }

    /// A classification finished.
    pub fn classified(&mut self, index: usize, device: DeviceInfo) {
        if let Some(found) = self.found.get_mut(index) {
            found.device = device;
        }
    }

    /// A device whose classification discovery's deadline cut short: still the fresh-device
    /// status, with why in its `last_error`.
    pub fn cut_short(&mut self, index: usize, why: Failure) {
        if let Some(found) = self.found.get_mut(index) {
            found.device.last_error = Some(why);
        }
    }

    /// The devices found so far, classified or not.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.found.iter().map(|f| &f.device)
    }

    /// The devices to report: root-device answers dropped when a gateway search was answered,
    /// each named by its best reply, the default route's gateway first, then in answer order
    /// with TR-064 gateways after UPnP forum ones (Godot's getGateway() then takes the IGD of
    /// a router that answers both kinds of search).
    pub fn into_devices(self, default_gateways: &[IpAddr]) -> Vec<DeviceInfo> {
        let drop_fallbacks = self.primary > 0;
        let mut kept: Vec<Found> = self
            .found
            .into_iter()
            .filter(|f| !(drop_fallbacks && f.fallback))
            .collect();
        kept.sort_by_key(|f| (!on_route(f, default_gateways), f.device.is_tr064()));
        kept.into_iter()
            .map(|f| DeviceInfo {
                service_type: f.service_type,
                ..f.device
            })
            .collect()
    }
}

fn on_route(f: &Found, gateways: &[IpAddr]) -> bool {
    gateways.contains(&f.responder) || f.named_by.is_some_and(|n| gateways.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upnp::discovery::search::{GATEWAY_TARGETS, ROOT_DEVICE};

    const ROUTER: &str = "192.168.77.1:1900";
    const OTHER: &str = "192.168.77.20:1900";

    fn reply(host: &str, st: &str) -> (SearchReply, SocketAddr) {
        let from: SocketAddr = host.parse().unwrap();
        let reply = SearchReply {
            location: format!("http://{}:5000/rootDesc.xml", from.ip()),
            st: st.to_string(),
            usn: format!("uuid:{}::{st}", from.ip()),
            server: String::new(),
            boot_id: None,
        };
        (reply, from)
    }

    fn feed(replies: &mut Replies, host: &str, sts: &[&str]) -> usize {
        sts.iter()
            .filter(|st| {
                let (r, from) = reply(host, st);
                replies.accept(r, from, true).is_some()
            })
            .count()
    }

    #[test]
    fn a_device_is_named_by_its_best_reply_in_any_order() {
        for order in [[4, 3, 0, 1, 2], [0, 1, 2, 3, 4], [2, 4, 1, 0, 3]] {
            let mut replies = Replies::new(Plan::Gateways, "", LocalView::default());
            let sts: Vec<&str> = order.iter().map(|&i| GATEWAY_TARGETS[i]).collect();
            assert_eq!(
                feed(&mut replies, ROUTER, &sts),
                1,
                "one device per description"
            );
            let devices = replies.into_devices(&[]);
            assert_eq!(devices.len(), 1);
            assert_eq!(devices[0].service_type, GATEWAY_TARGETS[0]);
        }
    }

    #[test]
    fn the_filter_sees_each_reply() {
        let mut replies = Replies::new(Plan::Gateways, "WANIPConnection", LocalView::default());
        feed(
            &mut replies,
            ROUTER,
            &[GATEWAY_TARGETS[0], GATEWAY_TARGETS[3], GATEWAY_TARGETS[2]],
        );
        assert_eq!(replies.count(), 3);
        let devices = replies.into_devices(&[]);
        assert_eq!(devices[0].service_type, GATEWAY_TARGETS[2]);
    }

    #[test]
    fn root_device_answers_count_only_when_no_gateway_answered() {
        // Only a media server on the LAN: found through upnp:rootdevice, as Godot's last search.
        let mut alone = Replies::new(Plan::Gateways, "", LocalView::default());
        feed(&mut alone, OTHER, &[ROOT_DEVICE]);
        assert_eq!(alone.into_devices(&[]).len(), 1);

        // A router answers too, before or after: the media server is not listed.
        let mut late = Replies::new(Plan::Gateways, "", LocalView::default());
        feed(&mut late, OTHER, &[ROOT_DEVICE]);
        feed(&mut late, ROUTER, &[GATEWAY_TARGETS[0], ROOT_DEVICE]);
        let devices = late.into_devices(&[]);
        assert_eq!(devices.len(), 1);
        assert!(devices[0].description_url.contains("192.168.77.1:"));
        assert_eq!(devices[0].service_type, GATEWAY_TARGETS[0]);

        // Filter "rootdevice" with a router answering: Godot never searched for root devices.
        let mut filtered = Replies::new(Plan::Gateways, "rootdevice", LocalView::default());
        feed(&mut filtered, ROUTER, &[ROOT_DEVICE, GATEWAY_TARGETS[0]]);
        assert_eq!(filtered.count(), 2);
        assert!(filtered.into_devices(&[]).is_empty());
    }

    #[test]
    fn the_default_routes_gateway_comes_first_then_answer_order() {
        let mut replies = Replies::new(Plan::Gateways, "", LocalView::default());
        feed(&mut replies, OTHER, &[GATEWAY_TARGETS[0]]);
        feed(&mut replies, "192.168.77.21:1900", &[GATEWAY_TARGETS[0]]);
        feed(&mut replies, ROUTER, &[GATEWAY_TARGETS[0]]);
        let router: IpAddr = "192.168.77.1".parse().unwrap();
        let hosts: Vec<String> = replies
            .into_devices(&[router])
            .into_iter()
            .map(|d| d.description_url)
            .collect();
        assert_eq!(
            hosts,
            [
                "http://192.168.77.1:5000/rootDesc.xml",
                "http://192.168.77.20:5000/rootDesc.xml",
                "http://192.168.77.21:5000/rootDesc.xml"
            ]
        );
    }

    #[test]
    fn tr064_gateways_come_after_the_igd_of_the_same_router() {
        let tr064 = GATEWAY_TARGETS[5];
        assert!(tr064.starts_with("urn:dslforum-org:"));
        let mut replies = Replies::new(Plan::Gateways, "", LocalView::default());
        // A FRITZ!Box: its TR-064 description answers first, its IGD second.
        for (path, st) in [("tr64desc.xml", tr064), ("igddesc.xml", GATEWAY_TARGETS[0])] {
            let (mut r, from) = reply(ROUTER, st);
            r.location = format!("http://192.168.77.1:49000/{path}");
            assert!(replies.accept(r, from, true).is_some());
        }
        feed(&mut replies, OTHER, &[GATEWAY_TARGETS[0]]);
        let router: IpAddr = "192.168.77.1".parse().unwrap();
        let urls: Vec<String> = replies
            .into_devices(&[router])
            .into_iter()
            .map(|d| d.description_url)
            .collect();
        assert_eq!(
            urls,
            [
                "http://192.168.77.1:49000/igddesc.xml",
                "http://192.168.77.1:49000/tr64desc.xml",
                "http://192.168.77.20:5000/rootDesc.xml"
            ]
        );
    }

    #[test]
    fn a_known_device_keeps_its_classification() {
        let mut replies = Replies::new(Plan::Gateways, "", LocalView::default());
        let (r, from) = reply(ROUTER, GATEWAY_TARGETS[3]);
        let (index, mut device) = replies.accept(r, from, true).unwrap();
        device.igd_status = crate::errors::IgdStatus::Ok;
        replies.classified(index, device);
        // A queued reply read after an early stop improves the name, adds no device.
        let (r, from) = reply(ROUTER, GATEWAY_TARGETS[0]);
        assert!(replies.accept(r, from, false).is_none());
        let (r, from) = reply(OTHER, GATEWAY_TARGETS[0]);
        assert!(replies.accept(r, from, false).is_none());
        let devices = replies.into_devices(&[]);
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].igd_status, crate::errors::IgdStatus::Ok);
        assert_eq!(devices[0].service_type, GATEWAY_TARGETS[0]);
    }

    #[test]
    fn every_reply_counts_under_ssdp_all() {
        let mut replies = Replies::new(Plan::All, "WANDevice", LocalView::default());
        feed(
            &mut replies,
            ROUTER,
            &[
                ROOT_DEVICE,
                "urn:schemas-upnp-org:device:WANDevice:2",
                GATEWAY_TARGETS[1],
            ],
        );
        let devices = replies.into_devices(&[]);
        assert_eq!(devices.len(), 1);
        assert_eq!(
            devices[0].service_type,
            "urn:schemas-upnp-org:device:WANDevice:2"
        );
    }
}

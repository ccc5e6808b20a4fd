//! Has a UPnP device lost its state? A UPnP 1.1 device carries `BOOTID.UPNP.ORG` in its
//! search replies and announcements and changes it when it reboots (an `ssdp:update`
//! announces the next value first, which is not a reboot). Judged here, process-wide and
//! per device, the same way NAT-PMP and PCP epochs are judged in `pxp::transport`: every
//! observation answers `rebooted` (this one revealed it) and `resets` (reboots seen so far),
//! so a caller that stored `resets` with a mapping notices a reboot another caller saw first.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// What one BOOTID says, after comparing it with the last one from the same device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootCheck {
    pub rebooted: bool,
    pub resets: u32,
}

#[derive(Clone, Copy, Debug)]
struct BootState {
    boot_id: u32,
    resets: u32,
}

type Registry = Mutex<HashMap<String, BootState>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A device is known by its UDN (the `uuid:` part of its USN) on its host: the UDN survives
/// a reboot even when the router's web server comes back on another port, and the host keeps
/// another LAN device from speaking for it (a reply or NOTIFY naming the router's UDN with a
/// LOCATION on its own address would otherwise move the router's BOOTID). Without a UDN, by
/// where its description lives (`host:port`, one box may serve several devices on different
/// ports). Without an http LOCATION, nothing.
fn device_key(usn: &str, location: &str) -> Option<String> {
    let rest = location.trim();
    let rest = rest
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &rest[7..])?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let usn = usn.trim();
    if usn
        .get(..5)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("uuid:"))
    {
        let udn = usn.split("::").next().unwrap_or_default();
        if udn.len() > 5 {
            return Some(format!(
                "{}@{}",
                udn.to_ascii_lowercase(),
                host_of(&authority)
            ));
        }
    }
    Some(authority)
}

/// The host of `host:port`, `[v6]:port` or a bare host.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Nothing known: a device without a usable identity is never judged.
const UNKNOWN: BootCheck = BootCheck {
    rebooted: false,
    resets: 0,
};

/// Runs `judge` on the device's state (created with `boot_id` when new); `judge` says
/// whether this observation is a reboot.
fn update(
    usn: &str,
    location: &str,
    boot_id: u32,
    judge: impl FnOnce(&mut BootState) -> bool,
) -> BootCheck {
    let Some(key) = device_key(usn, location) else {
        return UNKNOWN;
    };
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    let state = map.entry(key).or_insert(BootState { boot_id, resets: 0 });
    let rebooted = judge(state);
    BootCheck {
        rebooted,
        resets: state.resets,
    }
}

/// Records the BOOTID that a device (its `usn`, its `location`) reported in a search reply
/// or an `ssdp:alive`, and judges it: another value than the last one is a reboot. The first
/// value seen only records.
pub fn observe(usn: &str, location: &str, boot_id: u32) -> BootCheck {
    update(usn, location, boot_id, |state| {
        let rebooted = state.boot_id != boot_id;
        if rebooted {
            state.resets += 1;
            state.boot_id = boot_id;
        }
        rebooted
    })
}

/// An `ssdp:update`: the device announces the BOOTID it will use from now on, without
/// losing state.
pub fn announce_next(usn: &str, location: &str, next_boot_id: u32) -> BootCheck {
    update(usn, location, next_boot_id, |state| {
        state.boot_id = next_boot_id;
        false
    })
}

/// Reboots seen so far of a device (0 when never observed).
pub fn resets(usn: &str, location: &str) -> u32 {
    let Some(key) = device_key(usn, location) else {
        return 0;
    };
    let map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.get(&key).map_or(0, |s| s.resets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rebooted: bool, resets: u32) -> BootCheck {
        BootCheck { rebooted, resets }
    }

    #[test]
    fn a_new_boot_id_is_a_reboot_an_announced_one_is_not() {
        let at = "http://127.0.9.1:5000/rootDesc.xml";
        assert_eq!(resets("", at), 0);
        assert_eq!(observe("", at, 7), seen(false, 0));
        assert_eq!(observe("", at, 7), seen(false, 0));
        // Same device, another path or case: the same key.
        assert_eq!(
            observe("", "HTTP://127.0.9.1:5000/other.xml", 8),
            seen(true, 1)
        );
        assert!(!announce_next("", at, 9).rebooted);
        assert_eq!(observe("", at, 9), seen(false, 1));
        assert_eq!(observe("", at, 3), seen(true, 2));
        assert_eq!(resets("", at), 2);
        // Another port on the same host is another device.
        assert_eq!(resets("", "http://127.0.9.1:5001/rootDesc.xml"), 0);
    }

    #[test]
    fn the_udn_follows_a_device_to_another_port() {
        let usn = "uuid:6a0c3b5e-0000-4000-8000-00000000b007::urn:schemas-upnp-org:device:InternetGatewayDevice:1";
        assert!(!observe(usn, "http://127.0.9.3:5000/d.xml", 1).rebooted);
        let after = observe(
            "UUID:6A0C3B5E-0000-4000-8000-00000000B007",
            "http://127.0.9.3:6000/d.xml",
            2,
        );
        assert_eq!(after, seen(true, 1));
        assert_eq!(resets(usn, "http://127.0.9.3:7000/d.xml"), 1);
        // Another host naming the same UDN is another device: it cannot speak for this one.
        assert!(!observe(usn, "http://127.0.9.4:5000/d.xml", 9).rebooted);
        assert_eq!(resets(usn, "http://127.0.9.3:5000/d.xml"), 1);
    }

    #[test]
    fn without_udn_or_http_location_nothing_is_judged() {
        for bad in ["", "ftp://127.0.9.2/x", "http:///x", "127.0.9.2:80"] {
            assert_eq!(observe("uuid:", bad, 1), seen(false, 0));
            assert_eq!(observe("", bad, 2), seen(false, 0));
        }
    }
}

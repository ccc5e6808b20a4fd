//! Hearing SSDP announcements: a router coming back from a reboot announces a new
//! `BOOTID.UPNP.ORG`, judged by [`boot`]. Passive: nothing here ever sends.
//! The socket comes from [`ssdp::open_listener`], the parsing
//! from [`ssdp::parse_announcement`].

use std::net::IpAddr;

use tokio_util::sync::CancellationToken;

use super::boot::{self, BootCheck};
use super::ssdp::{self, Announcement};

/// What an announcement says about the device's state: an `ssdp:alive` with a BOOTID is
/// judged, an `ssdp:update` moves to the announced next BOOTID, anything else just reports.
pub fn judge(a: &Announcement) -> BootCheck {
    match (a.nts.as_str(), a.boot_id, a.next_boot_id) {
        ("ssdp:update", _, Some(next)) => boot::announce_next(&a.usn, &a.location, next),
        ("ssdp:alive", Some(id), _) => boot::observe(&a.usn, &a.location, id),
        _ => BootCheck {
            rebooted: false,
            resets: boot::resets(&a.usn, &a.location),
        },
    }
}

/// A device announces its own description: a NOTIFY whose LOCATION is on another host than
/// the one that sent it may be anyone's, and must not move a device's BOOTID (a spoofed
/// "reboot" would make every holder of a mapping check it at once).
fn from_its_own_host(a: &Announcement, from: IpAddr) -> bool {
    crate::upnp::link::http::Endpoint::parse(&a.location).is_ok_and(|e| e.addr.ip() == from)
}

/// Hands every NOTIFY that arrives on `socket` to `on`, with the address it came from and
/// what it says about the device's state ([`judge`], only for a NOTIFY sent from the host
/// its LOCATION names; others are reported, never judged), until `stop` is cancelled. Anything else (search replies, M-SEARCHes, junk) is ignored, and so
/// is a failed receive: the listener lives as long as its owner wants it.
pub async fn listen(
    socket: std::net::UdpSocket,
    stop: CancellationToken,
    mut on: impl FnMut(Announcement, IpAddr, BootCheck),
) {
    let Ok(socket) = tokio::net::UdpSocket::from_std(socket) else {
        return;
    };
    let mut buffer = vec![0u8; ssdp::MAX_DATAGRAM];
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            received = socket.recv_from(&mut buffer) => {
                let Ok((len, from)) = received else { continue };
                let Some(a) = ssdp::parse_announcement(&buffer[..len]) else { continue };
                let check = if from_its_own_host(&a, from.ip()) {
                    judge(&a)
                } else {
                    BootCheck { rebooted: false, resets: boot::resets(&a.usn, &a.location) }
                };
                on(a, from.ip(), check);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hands_over_notifies_only_and_stops_when_asked() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(listen(socket, stop.clone(), move |a, from, check| {
            let _ = tx.send((a, from, check));
        }));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .send_to(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n", addr)
            .unwrap();
        sender.send_to(b"\xff\xfe junk", addr).unwrap();
        let notify = "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\
                      USN: uuid:notify-test-1::upnp:rootdevice\r\nLOCATION: http://127.0.0.1/d.xml\r\n\
                      BOOTID.UPNP.ORG: 7\r\n\r\n";
        sender.send_to(notify.as_bytes(), addr).unwrap();
        let (a, from, check) = rx.recv().await.unwrap();
        assert_eq!((a.nts.as_str(), a.boot_id), ("ssdp:alive", Some(7)));
        assert!(!check.rebooted, "the first BOOTID only records");
        assert_eq!(from, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert!(rx.try_recv().is_err(), "only the NOTIFY is handed over");
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_notify_from_another_host_than_its_location_is_never_judged() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(listen(socket, stop.clone(), move |a, _, check| {
            let _ = tx.send((a, check));
        }));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let notify = |location: &str, boot_id: u32| {
            format!(
                "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\
                 USN: uuid:notify-spoof-1::upnp:rootdevice\r\nLOCATION: {location}\r\n\
                 BOOTID.UPNP.ORG: {boot_id}\r\n\r\n"
            )
        };
        // The device itself (on 127.0.0.1) records its BOOTID...
        sender
            .send_to(notify("http://127.0.0.1:5000/d.xml", 1).as_bytes(), addr)
            .unwrap();
        assert!(!rx.recv().await.unwrap().1.rebooted);
        // ...a host speaking for it with another BOOTID is reported but not judged...
        sender
            .send_to(notify("http://127.0.0.2:5000/d.xml", 9).as_bytes(), addr)
            .unwrap();
        let (spoofed, check) = rx.recv().await.unwrap();
        assert_eq!(spoofed.boot_id, Some(9));
        assert_eq!(
            check,
            BootCheck {
                rebooted: false,
                resets: 0
            }
        );
        // ...and the device's own next announcement with its unchanged BOOTID is no reboot.
        sender
            .send_to(notify("http://127.0.0.1:5000/d.xml", 1).as_bytes(), addr)
            .unwrap();
        assert!(!rx.recv().await.unwrap().1.rebooted);
        stop.cancel();
        task.await.unwrap();
    }

    fn announcement(nts: &str, boot_id: Option<u32>, next_boot_id: Option<u32>) -> Announcement {
        Announcement {
            nts: nts.into(),
            nt: "upnp:rootdevice".into(),
            usn: "uuid:notify-judge-1::upnp:rootdevice".into(),
            location: "http://127.0.9.9:5000/d.xml".into(),
            boot_id,
            next_boot_id,
        }
    }

    #[test]
    fn a_reboot_is_an_alive_with_a_new_boot_id_not_an_update() {
        assert!(!judge(&announcement("ssdp:alive", Some(1), None)).rebooted);
        assert!(!judge(&announcement("ssdp:update", Some(1), Some(2))).rebooted);
        assert!(!judge(&announcement("ssdp:alive", Some(2), None)).rebooted);
        assert!(!judge(&announcement("ssdp:byebye", None, None)).rebooted);
        let reboot = judge(&announcement("ssdp:alive", Some(5), None));
        assert_eq!(
            reboot,
            BootCheck {
                rebooted: true,
                resets: 1
            }
        );
        assert_eq!(judge(&announcement("ssdp:byebye", None, None)).resets, 1);
    }
}

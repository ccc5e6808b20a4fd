//! bench/profile/layers.sh builds and runs this. The Rust core alone, no N-API and no thread handoff: sequential add+delete pairs on a
//! current-thread runtime, and the same with a multi-thread runtime driven from another
//! thread (what the addon does), to split the gap to miniupnpc.
use std::time::{Duration, Instant};
use upnp_native::upnp::actions::{add_port_mapping, delete_port_mapping, Mapping};
use upnp_native::upnp::soap::Target;

fn target() -> Target {
    Target::new("http://192.168.77.1:5000/ctl/IPConn".into(), "urn:schemas-upnp-org:service:WANIPConnection:2".into(), Duration::from_secs(3))
}
fn mapping(port: u16) -> Mapping {
    Mapping { remote_host: String::new(), external_port: port, protocol: "UDP".into(), internal_port: port, internal_client: "192.168.77.10".into(), enabled: true, description: "bench".into(), lease_duration: 0 }
}
async fn pair(t: &Target, port: u16) {
    add_port_mapping(t, &mapping(port)).await.expect("add");
    delete_port_mapping(t, "", port, "UDP").await.expect("delete");
}

/// Same guard as the tests: only inside the lab's client namespace ($UNL_PREFIX-client).
fn in_lab() -> bool {
    use std::os::unix::fs::MetadataExt;
    let prefix = std::env::var("UNL_PREFIX").unwrap_or_else(|_| "unl".into());
    let Ok(me) = std::fs::metadata("/proc/self/ns/net") else { return false };
    ["client", "client2"].iter().any(|h| {
        std::fs::metadata(format!("/run/netns/{prefix}-{h}"))
            .map(|ns| ns.ino() == me.ino() && ns.dev() == me.dev())
            .unwrap_or(false)
    })
}

fn main() {
    if !in_lab() {
        eprintln!("not inside the UPnP lab client namespace (UNL_PREFIX?)");
        std::process::exit(3);
    }
    let n: u16 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let t = target();
    for round in 0..3 {
        // 1) current-thread runtime, awaited in place: the core's own cost.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let start = Instant::now();
        rt.block_on(async { for i in 0..n { pair(&t, 20000 + i).await } });
        let a = n as f64 / start.elapsed().as_secs_f64();
        // 2) multi-thread runtime, each operation spawned from this thread and waited for
        //    here: the same handoff pattern as a JS call awaiting a napi-rs promise.
        let mt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let start = Instant::now();
        for i in 0..n {
            let tt = t.clone();
            let port = 20000 + i;
            mt.block_on(async { mt.spawn(async move { add_port_mapping(&tt, &mapping(port)).await.expect("add"); }).await.unwrap() });
            let tt = t.clone();
            mt.block_on(async { mt.spawn(async move { delete_port_mapping(&tt, "", port, "UDP").await.expect("del"); }).await.unwrap() });
        }
        let b = n as f64 / start.elapsed().as_secs_f64();
        println!("round {round}: current-thread {a:.0} pairs/s, spawned on multi-thread {b:.0} pairs/s");
    }
}

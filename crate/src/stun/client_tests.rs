use super::*;

#[test]
fn the_schedule_starts_at_500_ms_and_stays_within_the_budget() {
    let offsets: Vec<u128> = timing(DEFAULT_BUDGET)
        .send_offsets()
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(offsets, [0, 500, 1500]);
    // A short budget still retransmits, sooner.
    let short: Vec<u128> = timing(Duration::from_millis(300))
        .send_offsets()
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(short, [0, 150]);
}

#[test]
fn endpoints_compare_across_the_ipv4_mapped_form() {
    let v4: SocketAddr = "11.22.33.1:3478".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:11.22.33.1]:3478".parse().unwrap();
    assert!(same_endpoint(v4, mapped));
    assert!(!same_endpoint(v4, "11.22.33.1:3479".parse().unwrap()));
}

//! Addresses and networks for `CIDR()` and `PUBLIC_IP()`.

use std::net::IpAddr;

/// What `PUBLIC_IP()` does not count as public: private (RFC 1918),
/// shared (RFC 6598), loopback, link-local, unique-local and unspecified
/// addresses.
const NON_PUBLIC_NETS: &[(&str, u8)] = &[
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
    ("0.0.0.0", 8),
    ("::1", 128),
    ("::", 128),
    ("fc00::", 7),
    ("fe80::", 10),
];

/// [`NON_PUBLIC_NETS`], parsed once.
pub(super) fn non_public_nets() -> &'static [(IpAddr, u8)] {
    static NETS: std::sync::LazyLock<Vec<(IpAddr, u8)>> = std::sync::LazyLock::new(|| {
        NON_PUBLIC_NETS
            .iter()
            .map(|(net, bits)| (net.parse().expect("a valid network"), *bits))
            .collect()
    });
    &NETS
}

/// An address, IPv4-mapped IPv6 ones read as IPv4.
pub(super) fn leaf_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

pub(super) fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `10.0.0.0/8`, `fc00::/7`, or one address.
pub(crate) fn parse_net(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((addr, bits)) => (addr.parse::<IpAddr>().ok()?, Some(bits.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

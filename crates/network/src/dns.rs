//! The embedded DNS resolver of user-defined networks. Each container on one gets a UDP socket
//! at `127.0.0.11:53` inside its own network namespace (its `/etc/resolv.conf` names it);
//! questions for A records of names the container's networks know (container names, aliases,
//! short IDs) are answered here, everything else is forwarded to the host's resolvers from the
//! daemon's own namespace, as Docker's resolver does.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

/// Names → addresses, for one container's view of its networks. `None`: not ours, forward.
pub type Lookup = Arc<dyn Fn(&str) -> Option<Vec<IpAddr>> + Send + Sync>;

/// Docker's answers live 600 seconds.
const TTL: u32 = 600;

/// The answer to `query` from `lookup`, or `None` when it must be forwarded. Pure.
pub fn answer(query: &[u8], lookup: &dyn Fn(&str) -> Option<Vec<IpAddr>>) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let q = msg.queries.first()?;
    if msg.queries.len() != 1 {
        return None;
    }
    let name = q.name().to_ascii();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let addrs = lookup(&name)?;
    let mut resp = Message::response(msg.metadata.id, msg.metadata.op_code);
    resp.metadata.recursion_desired = msg.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authoritative = false;
    resp.metadata.response_code = ResponseCode::NoError;
    resp.add_query(q.clone());
    // A name berth knows gets its addresses of the family asked for, or an empty answer.
    for ip in addrs {
        let data = match (q.query_type(), ip) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        resp.add_answer(Record::from_rdata(q.name().clone(), TTL, data));
    }
    resp.to_vec().ok()
}

/// A SERVFAIL for `query` (a forward that got no answer).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let mut resp = Message::response(msg.metadata.id, msg.metadata.op_code);
    resp.metadata.recursion_desired = msg.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.response_code = ResponseCode::ServFail;
    resp.add_queries(msg.queries.clone());
    resp.to_vec().ok()
}

/// The name servers of a `resolv.conf`, on port 53.
pub fn upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Serves one container's resolver socket until the task is aborted.
pub async fn serve(sock: tokio::net::UdpSocket, lookup: Lookup, upstreams: Vec<SocketAddr>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else { return };
        let query = buf[..n].to_vec();
        if let Some(reply) = answer(&query, &*lookup) {
            let _ = sock.send_to(&reply, from).await;
            continue;
        }
        let (sock, upstreams) = (sock.clone(), upstreams.clone());
        tokio::spawn(async move {
            let reply = match forward(&query, &upstreams).await {
                Some(r) => Some(r),
                None => servfail(&query),
            };
            if let Some(r) = reply {
                let _ = sock.send_to(&r, from).await;
            }
        });
    }
}

async fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
        let Ok(s) = tokio::net::UdpSocket::bind(bind).await else { continue };
        if s.send_to(query, up).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 7;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn lookup(name: &str) -> Option<Vec<IpAddr>> {
        let ips = |l: &[&str]| Some(l.iter().map(|s| s.parse().unwrap()).collect());
        match name {
            "web" => ips(&["172.18.0.2", "172.18.0.3"]),
            "six" => ips(&["172.19.0.2", "fd00:19::2"]),
            _ => None,
        }
    }

    #[test]
    fn known_names_are_answered_and_others_forwarded() {
        let r = Message::from_vec(&answer(&query("WEB.", RecordType::A), &lookup).unwrap()).unwrap();
        assert_eq!(r.metadata.id, 7);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        let ips: Vec<String> = r.answers.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(ips, vec!["172.18.0.2", "172.18.0.3"]);
        // AAAA for a known name: an empty answer, not a forward.
        let r = Message::from_vec(&answer(&query("web", RecordType::AAAA), &lookup).unwrap()).unwrap();
        assert!(r.answers.is_empty());
        // A name on an IPv6 network: each family answers its own.
        let answers = |t| {
            let r = Message::from_vec(&answer(&query("six", t), &lookup).unwrap()).unwrap();
            r.answers.iter().map(|a| a.data.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(answers(RecordType::A), ["172.19.0.2"]);
        assert_eq!(answers(RecordType::AAAA), ["fd00:19::2"]);
        assert!(answer(&query("example.org", RecordType::A), &lookup).is_none());
        assert!(answer(b"garbage", &lookup).is_none());
        let r = Message::from_vec(&servfail(&query("x", RecordType::A)).unwrap()).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    }

    #[test]
    fn upstreams_come_from_resolv_conf() {
        let got = upstreams("search x\nnameserver 10.0.0.1\nnameserver ::1\n# nameserver 1.1.1.1\n");
        assert_eq!(got, vec!["10.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    }
}

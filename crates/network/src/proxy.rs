//! The userland proxy of published ports: a listener on the host's port (which also reserves
//! it, so a second container asking for it is refused) that relays each TCP connection, or
//! each UDP flow, to the container. Traffic from other hosts is DNATed by the firewall before
//! it reaches the listener; the proxy serves what DNAT cannot, traffic to the host's loopback
//! addresses.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::firewall::Proto;
use crate::NetworkError;

/// A reserved host port: a TCP listener, or a bound UDP socket.
pub enum Reserved {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

impl Reserved {
    pub fn port(&self) -> u16 {
        match self {
            Reserved::Tcp(l) => l.local_addr().map(|a| a.port()).unwrap_or(0),
            Reserved::Udp(s) => s.local_addr().map(|a| a.port()).unwrap_or(0),
        }
    }
}

/// Binds `host_ip:host_port` (port 0: any free one) for `proto`, with Docker's error when the
/// port is in use.
pub fn reserve(proto: Proto, host_ip: Option<Ipv4Addr>, host_port: u16) -> Result<Reserved, NetworkError> {
    let ip = host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let addr = SocketAddr::from((ip, host_port));
    let bound = match proto {
        Proto::Tcp => std::net::TcpListener::bind(addr).map(Reserved::Tcp),
        Proto::Udp => std::net::UdpSocket::bind(addr).map(Reserved::Udp),
    };
    bound.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            NetworkError::Taken(format!(
                "driver failed programming external connectivity: Error starting userland proxy: listen {}4 {addr}: bind: address already in use",
                proto.as_str()
            ))
        } else {
            NetworkError::host(format!("listen {} {addr}", proto.as_str()), e)
        }
    })
}

/// Relays connections accepted on `r` to `target` until the returned task is aborted. Call
/// from within the runtime.
pub fn spawn(r: Reserved, target: SocketAddr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let listener = match r {
            Reserved::Tcp(l) => {
                let _ = l.set_nonblocking(true);
                match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => l,
                    Err(_) => return,
                }
            }
            Reserved::Udp(s) => {
                let _ = s.set_nonblocking(true);
                if let Ok(s) = UdpSocket::from_std(s) {
                    relay_udp(Arc::new(s), target).await;
                }
                return;
            }
        };
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    })
}

/// How long a UDP flow lives without a reply (Docker's proxy waits as long).
const UDP_IDLE: Duration = Duration::from_secs(90);

/// Datagrams from each client go out of a socket of that client's own, connected to `target`;
/// what comes back on it goes to the client. A flow with no reply for [`UDP_IDLE`] is dropped.
/// The flows' tasks live in a set owned here, so aborting the relay ends them all.
async fn relay_udp(front: Arc<UdpSocket>, target: SocketAddr) {
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut replies = tokio::task::JoinSet::new();
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, client)) = front.recv_from(&mut buf).await else { return };
        while replies.try_join_next().is_some() {}
        let known = flows.lock().unwrap_or_else(|e| e.into_inner()).get(&client).cloned();
        let back = match known {
            Some(b) => b,
            None => {
                let Ok(b) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else { continue };
                if b.connect(target).await.is_err() {
                    continue;
                }
                let b = Arc::new(b);
                flows.lock().unwrap_or_else(|e| e.into_inner()).insert(client, b.clone());
                let (front, back, flows) = (front.clone(), b.clone(), flows.clone());
                replies.spawn(async move {
                    let mut buf = vec![0u8; 65535];
                    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, back.recv(&mut buf)).await {
                        let _ = front.send_to(&buf[..n], client).await;
                    }
                    flows.lock().unwrap_or_else(|e| e.into_inner()).remove(&client);
                });
                b
            }
        };
        let _ = back.send(&buf[..n]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn udp_flows_are_relayed_both_ways_per_client() {
        // An echo server in place of the container, answering "<what it got>!".
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = echo.recv_from(&mut buf).await {
                let reply = [&buf[..n], b"!"].concat();
                let _ = echo.send_to(&reply, from).await;
            }
        });
        let r = reserve(Proto::Udp, Some(Ipv4Addr::LOCALHOST), 0).unwrap();
        let port = r.port();
        assert!(reserve(Proto::Udp, Some(Ipv4Addr::LOCALHOST), port).is_err(), "the port is held");
        let relay = spawn(r, target);
        let ask = |client: Arc<UdpSocket>, what: &'static [u8]| async move {
            client.send_to(what, (Ipv4Addr::LOCALHOST, port)).await.unwrap();
            let mut buf = [0u8; 512];
            let (n, from) = tokio::time::timeout(Duration::from_secs(3), client.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(from.port(), port, "the reply comes from the published port");
            buf[..n].to_vec()
        };
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        assert_eq!(ask(a.clone(), b"one").await, b"one!");
        assert_eq!(ask(b.clone(), b"two").await, b"two!");
        assert_eq!(ask(a.clone(), b"three").await, b"three!");
        relay.abort();
        let _ = relay.await;
        assert!(reserve(Proto::Udp, Some(Ipv4Addr::LOCALHOST), port).is_ok(), "the port is free again");
    }
}

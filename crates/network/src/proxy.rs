//! The userland proxy of published ports: a listener on the host's port (which also reserves
//! it, so a second container asking for it is refused) that relays each TCP connection to the
//! container. Traffic from other hosts is DNATed by the firewall before it reaches the
//! listener; the proxy serves what DNAT cannot, connections to the host's loopback addresses.

use std::net::{Ipv4Addr, SocketAddr};

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
            NetworkError::Conflict(format!(
                "driver failed programming external connectivity: Error starting userland proxy: listen {}4 {addr}: bind: address already in use",
                proto.as_str()
            ))
        } else {
            NetworkError::Internal(format!("listen {} {addr}: {e}", proto.as_str()))
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
                // UDP: the socket only holds the port; DNAT carries the datagrams.
                let _keep = s;
                std::future::pending::<()>().await;
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

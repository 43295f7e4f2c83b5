//! A load generator for registries: `clients` connections (HTTP/1.1 keep-alive), each asking
//! in turn for the paths given, for `seconds`; prints requests per second and the failures.
//!
//!   berth-registry-load HOST:PORT CLIENTS SECONDS PATH...

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Reads one response (a `Content-Length` body, or none for HEAD); its status.
fn response(r: &mut BufReader<TcpStream>, head: bool) -> anyhow::Result<u16> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line.split(' ').nth(1).context("a status line")?.parse()?;
    let mut length = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse()?;
            }
        }
    }
    if !head {
        std::io::copy(&mut r.by_ref().take(length as u64), &mut std::io::sink())?;
    }
    Ok(status)
}

fn client(
    host: String,
    paths: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(&host)?;
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let path = &paths[i % paths.len()];
        let (method, path) = path.split_once(' ').unwrap_or(("GET", path));
        let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
        write!(w, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n")?;
        match response(&mut r, method == "HEAD")? {
            200..=299 => done.fetch_add(1, Ordering::Relaxed),
            _ => failed.fetch_add(1, Ordering::Relaxed),
        };
        i += 1;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        bail!("usage: berth-registry-load HOST:PORT CLIENTS SECONDS 'GET /v2/…' ['HEAD /v2/…' …]");
    }
    let host = args[0].clone();
    let clients: usize = args[1].parse().context("CLIENTS")?;
    let seconds: f64 = args[2].parse().context("SECONDS")?;
    let paths = Arc::new(args[3..].to_vec());
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (host, paths, stop, done, failed) =
                (host.clone(), paths.clone(), stop.clone(), done.clone(), failed.clone());
            std::thread::spawn(move || client(host, paths, stop, done, failed))
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{:.0} requests/s ({n} in {elapsed:.1} s, {} failed)",
        n as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}

//! IDs of containers, networks, endpoints and execs, made in one place as Docker makes them:
//! 32 random bytes from the kernel, in hex, never one whose short form (12 digits) is all
//! decimal (it would read as a number where a name or an ID is expected).

/// A new 64-digit ID.
pub fn new_id() -> String {
    loop {
        let id = random_hex(32);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// `n` random bytes (`getrandom(2)`), in lower-case hex.
fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: getrandom writes at most `n - filled` bytes into the rest of the buffer.
        let got = unsafe { libc::getrandom(b[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if got > 0 {
            filled += got as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            panic!("getrandom failed: {}", std::io::Error::last_os_error());
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert!(!a[..12].bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(random_hex(3).len(), 6);
    }
}

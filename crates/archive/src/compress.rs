//! Compression, told by magic bytes (media types can lie or be absent).

use std::io::{self, BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Tells the compression from the first bytes of a stream.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// From an OCI or Docker layer media type.
    pub fn from_media_type(media_type: &str) -> Compression {
        if media_type.ends_with("+gzip") || media_type.ends_with(".gzip") {
            Compression::Gzip
        } else if media_type.ends_with("+zstd") || media_type.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for, streaming.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let head = reader.fill_buf()?;
    let compression = Compression::detect(head);
    let out: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    };
    Ok((compression, out))
}

/// Compresses `reader` into `out` as gzip, at the default level (as Docker compresses a layer
/// it pushes); gives `out` back.
pub fn gzip<W: std::io::Write>(mut reader: impl Read, out: W) -> io::Result<W> {
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut reader, &mut encoder)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decompresses() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for (input, want) in
            [(data.clone(), Compression::None), (gz, Compression::Gzip), (zst, Compression::Zstd)]
        {
            let (got, mut r) = decompress(&input[..]).unwrap();
            assert_eq!(got, want);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Compression::Zstd
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Compression::Gzip
        );
    }
}

/// Any compression Docker reads a build context or an `ADD`ed archive in: bzip2 and xz as
/// well as [`decompress`]'s (a layer is never bzip2 or xz, so those stay out of
/// [`Compression`]).
pub fn decompress_any<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let head = reader.fill_buf()?;
    if head.starts_with(b"BZh") {
        return Ok(Box::new(bzip2::bufread::MultiBzDecoder::new(reader)));
    }
    if head.starts_with(b"\xfd7zXZ\x00") {
        return Ok(Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)));
    }
    Ok(decompress(reader)?.1)
}

/// Whether `head` (at least 512 bytes when there are that many) begins a tar archive: a
/// header whose checksum holds.
pub fn is_tar_header(head: &[u8]) -> bool {
    let Some(h) = head.get(..512) else { return false };
    let Some(stored) = std::str::from_utf8(&h[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok())
    else {
        return false;
    };
    let sum: u32 =
        h.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
    sum == stored && h.iter().any(|b| *b != 0)
}

#[cfg(test)]
mod any_tests {
    use super::*;
    use std::io::Write;

    fn a_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", &b"hello"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn every_compression_a_context_comes_in_is_read() {
        let tar = a_tar();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&tar).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let zst = zstd::encode_all(tar.as_slice(), 1).unwrap();
        let packed = [bz.finish().unwrap(), xz.finish().unwrap(), gz.finish().unwrap(), zst, tar.clone()];
        for p in packed {
            let mut out = Vec::new();
            decompress_any(p.as_slice()).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, tar);
            assert!(is_tar_header(&out));
        }
        assert!(!is_tar_header(b"FROM busybox\n"));
        assert!(!is_tar_header(&[0u8; 1024]));
        let mut bad = tar.clone();
        bad[0] ^= 1;
        assert!(!is_tar_header(&bad), "a header whose checksum fails is not a tar's");
    }
}

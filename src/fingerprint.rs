//! A cheap content fingerprint of a file, for `mmstat --save --fingerprint` and `mmadvise restore
//! --match fingerprint`: a 64-bit non-cryptographic hash of the file's size and of five sampled 4 KiB
//! blocks, so that a file whose size and modification time were kept (or restored with `touch -d`)
//! but whose content changed is told apart from the file that was saved, without reading it whole.
//!
//! The blocks, at byte offsets (each block 4096 bytes, or up to the end of the file):
//! - `0` (the first block),
//! - `Q1`, `Q2`, `Q3`: a quarter, half and three quarters of the size, rounded down to a multiple of
//!   4096,
//! - `size - 4096` (the last 4 KiB, not aligned), or `0` for a smaller file.
//!
//! A file of 20 KiB or less is hashed whole. Blocks are read with pread(2), readahead off: no map, so a
//! file that shrinks meanwhile gives a short read (and another fingerprint), never SIGBUS. The value is part of
//! the snapshot format: it must never change for the same bytes.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::input::read_full_at;
use crate::range::Range;
use crate::snapshot::Identity;

/// The sampled block size.
pub const BLOCK: u64 = 4096;

/// Files this small are hashed whole.
pub const WHOLE: u64 = 5 * BLOCK;

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xbf58_476d_1ce4_e5b9;
const K2: u64 = 0x94d0_49bb_1331_11eb;

/// The high and low halves of a 128-bit product, folded.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The finaliser of SplitMix64: every input bit affects every output bit.
fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(K1);
    x ^= x >> 27;
    x = x.wrapping_mul(K2);
    x ^ (x >> 31)
}

/// The running hash.
#[derive(Debug, Clone, Copy)]
struct Hasher(u64);

impl Hasher {
    fn word(&mut self, w: u64) {
        self.0 = fold(self.0 ^ w ^ K0, K1).rotate_left(23).wrapping_add(K2);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
        self.word(bytes.len() as u64);
    }

    fn finish(self) -> u64 {
        avalanche(self.0)
    }
}

/// The sampled blocks of a file of `size` bytes (see the module's documentation).
pub fn blocks(size: u64) -> Vec<Range> {
    if size <= WHOLE {
        return vec![Range::upto(size)];
    }
    let at = |k: u64| (size / 4 * k) / BLOCK * BLOCK;
    [0, at(1), at(2), at(3), size - BLOCK]
        .into_iter()
        .map(|start| Range::new(start, start + BLOCK))
        .collect()
}

/// The fingerprint of `file`, whose size is `size` (from fstat when it was opened). The blocks are read
/// with readahead off (POSIX_FADV_RANDOM, set back to normal after), so that only they are cached.
pub fn of_file(file: &File, size: u64) -> io::Result<u64> {
    use rustix::fs::{Advice, fadvise};
    let _ = fadvise(file, 0, None, Advice::Random);
    let hashed = hash(file, size);
    let _ = fadvise(file, 0, None, Advice::Normal);
    hashed
}

/// Drops the sampled blocks of `file` from the page cache (POSIX_FADV_DONTNEED): after a fingerprint
/// that did not match, what reading them cached is not left behind.
pub fn drop_blocks(file: &File, size: u64) {
    for block in blocks(size) {
        let _ = rustix::fs::fadvise(
            file,
            block.start(),
            std::num::NonZeroU64::new(block.len()),
            rustix::fs::Advice::DontNeed,
        );
    }
}

fn hash(file: &File, size: u64) -> io::Result<u64> {
    let mut h = Hasher(avalanche(size ^ K0));
    h.word(size);
    let mut buf = vec![0u8; WHOLE as usize];
    for block in blocks(size) {
        let (start, len) = (block.start(), block.len());
        let want = &mut buf[..len as usize];
        let got = read_full_at(file, want, start)?;
        h.word(start);
        h.bytes(&want[..got]);
    }
    Ok(h.finish())
}

/// The fingerprint of the file at `path`, if it is still the one `identity` describes (same device,
/// inode, size and modification time) and can be read; `None` otherwise.
pub fn of_path(path: &Path, identity: &Identity) -> Option<u64> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || Identity::of(&meta) != *identity {
        return None;
    }
    of_file(&file, identity.size).ok()
}

/// The fingerprint as the snapshot writes it: 16 lowercase hexadecimal digits.
pub fn to_hex(value: u64) -> String {
    format!("{value:016x}")
}

/// A fingerprint written by [`to_hex`].
pub fn from_hex(text: &str) -> Option<u64> {
    (text.len() == 16)
        .then(|| u64::from_str_radix(text, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fp(bytes: &[u8]) -> u64 {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        of_file(&f, bytes.len() as u64).unwrap()
    }

    #[test]
    fn the_blocks_are_the_documented_ones() {
        assert_eq!(blocks(0), [Range::upto(0)]);
        assert_eq!(blocks(WHOLE), [Range::upto(WHOLE)]);
        let size = 1_000_000;
        let starts: Vec<u64> = blocks(size).iter().map(|b| b.start()).collect();
        assert_eq!(starts, [0, 249_856, 499_712, 749_568, size - 4096]);
        assert!(blocks(size).iter().all(|b| b.len() == 4096));
    }

    #[test]
    fn sampled_bytes_and_the_size_change_it_other_bytes_do_not() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let base = fp(&data);
        assert_eq!(base, fp(&data), "the same bytes, the same fingerprint");
        for start in blocks(data.len() as u64).iter().map(|b| b.start()) {
            let mut changed = data.clone();
            changed[start as usize + 100] ^= 1;
            assert_ne!(fp(&changed), base, "a bit of the block at {start}");
        }
        let mut outside = data.clone();
        outside[100_000] ^= 1;
        assert_eq!(fp(&outside), base, "bytes between blocks are not read");
        assert_ne!(fp(&data[..data.len() - 1]), base);
        assert_ne!(fp(b""), fp(b"\0"));
        assert_ne!(fp(b"\0"), fp(b"\0\0"));
        // The value is part of the snapshot format: it must not change between versions.
        assert_eq!(to_hex(fp(b"mmtools")), "d270f07d7870849f");
        assert_eq!(from_hex(&to_hex(base)), Some(base));
        assert_eq!(from_hex("xyz"), None);
    }
}

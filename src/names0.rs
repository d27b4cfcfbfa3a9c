//! NUL-separated lists of file names (`--files0-from`, as `find -print0` writes them), read as a
//! stream: one name at a time, in memory bounded by [`PATH_MAX`] whatever the list holds. A name
//! longer than that is an entry of its own kind ([`Name0::TooLong`]), skipped to its end unread.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// The longest name kept (Linux's PATH_MAX, terminating NUL included): a longer one cannot be opened.
pub const PATH_MAX: usize = 4096;

/// One entry of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name0 {
    /// A name, as its bytes.
    Name(Vec<u8>),
    /// An empty name (two NULs in a row, or a NUL first).
    Empty,
    /// A name of [`PATH_MAX`] bytes or more.
    TooLong,
}

/// The entries of a list, numbered from 1, read from `R` as they come.
#[derive(Debug)]
pub struct Names0<R> {
    reader: R,
    index: usize,
    done: bool,
}

impl<R: BufRead> Names0<R> {
    /// The entries read from `reader`.
    pub fn new(reader: R) -> Self {
        Names0 {
            reader,
            index: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for Names0<R> {
    type Item = io::Result<(usize, Name0)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut name = Vec::new();
        let mut long = false;
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if buf.is_empty() {
                // The end: a last name without its NUL still counts; nothing after a NUL is no entry.
                self.done = true;
                if !any {
                    return None;
                }
                break;
            }
            any = true;
            let (part, end) = match buf.iter().position(|&b| b == 0) {
                Some(at) => (&buf[..at], Some(at + 1)),
                None => (buf, None),
            };
            if !long && name.len() + part.len() < PATH_MAX {
                name.extend_from_slice(part);
            } else {
                long = true;
                name = Vec::new();
            }
            let used = end.unwrap_or(buf.len());
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        self.index += 1;
        let entry = if long {
            Name0::TooLong
        } else if name.is_empty() {
            Name0::Empty
        } else {
            Name0::Name(name)
        };
        Some(Ok((self.index, entry)))
    }
}

/// A list opened for reading: standard input for `-`; and whether it is a regular file (whose names
/// can be read ahead, as wc does, to size columns).
pub fn open_list(path: &Path) -> io::Result<(Names0<Box<dyn BufRead + Send>>, bool)> {
    let (reader, regular): (Box<dyn BufRead + Send>, bool) = if path.as_os_str() == "-" {
        let regular = rustix::fs::fstat(io::stdin()).is_ok_and(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
        });
        (Box::new(BufReader::new(io::stdin())), regular)
    } else {
        let file = File::open(path)?;
        let regular = file.metadata()?.is_file();
        (Box::new(BufReader::new(file)), regular)
    };
    Ok((Names0::new(reader), regular))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(bytes: &[u8]) -> Vec<(usize, Name0)> {
        Names0::new(BufReader::with_capacity(7, bytes))
            .map(|e| e.unwrap())
            .collect()
    }

    #[test]
    fn names_empty_names_and_the_last_name_without_nul() {
        let n = |s: &str| Name0::Name(s.as_bytes().to_vec());
        assert_eq!(entries(b""), []);
        assert_eq!(entries(b"\0"), [(1, Name0::Empty)]);
        assert_eq!(
            entries(b"a\0\0a long name\0last"),
            [
                (1, n("a")),
                (2, Name0::Empty),
                (3, n("a long name")),
                (4, n("last"))
            ]
        );
        let mut list = vec![b'x'; PATH_MAX];
        list.extend_from_slice(b"\0ok\0");
        list.extend_from_slice(&[b'y'; PATH_MAX - 1]);
        assert_eq!(
            entries(&list),
            [
                (1, Name0::TooLong),
                (2, n("ok")),
                (3, Name0::Name(vec![b'y'; PATH_MAX - 1]))
            ]
        );
    }

    #[test]
    fn an_endless_list_is_read_one_name_at_a_time() {
        // /dev/zero: empty names without end, none of them held.
        let zero = File::open("/dev/zero").unwrap();
        let mut names = Names0::new(BufReader::new(zero));
        for i in 1..=100_000 {
            assert_eq!(names.next().unwrap().unwrap(), (i, Name0::Empty));
        }
        let endless = io::repeat(b'z');
        let mut names = Names0::new(BufReader::new(endless.take(PATH_MAX as u64 * 1000)));
        assert_eq!(names.next().unwrap().unwrap(), (1, Name0::TooLong));
        assert!(names.next().is_none());
    }
}

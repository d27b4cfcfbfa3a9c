//! I/O priorities (ioprio_set and ioprio_get, which rustix does not wrap): the scheduling class and
//! level the block layer gives a thread's reads, as ionice(1) sets them.
#![allow(unsafe_code)]

use std::io;

/// `IOPRIO_WHO_PROCESS`: the `who` argument names one thread (0: the caller).
const WHO_PROCESS: libc::c_int = 1;
/// Bits of the level below the class.
const CLASS_SHIFT: u32 = 13;

/// An I/O scheduling class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoClass {
    /// No class set: the kernel derives one from the CPU nice value.
    None,
    /// Served first; levels 0 (highest) to 7. Needs CAP_SYS_ADMIN (or CAP_SYS_NICE).
    Realtime,
    /// The default class; levels 0 (highest) to 7.
    BestEffort,
    /// Served only when no other class asks for the disk.
    Idle,
}

/// A class and a level, as ioprio_set takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoPriority {
    /// The class.
    pub class: IoClass,
    /// The level inside the class, 0 to 7 (0 for idle and none).
    pub level: u8,
}

impl IoPriority {
    /// The kernel's encoding: class in the top bits, level below.
    pub fn raw(self) -> libc::c_int {
        let class = match self.class {
            IoClass::None => 0,
            IoClass::Realtime => 1,
            IoClass::BestEffort => 2,
            IoClass::Idle => 3,
        };
        (class << CLASS_SHIFT) | libc::c_int::from(self.level & 7)
    }

    /// Decodes the kernel's encoding.
    pub fn from_raw(raw: libc::c_int) -> IoPriority {
        let class = match raw >> CLASS_SHIFT {
            1 => IoClass::Realtime,
            2 => IoClass::BestEffort,
            3 => IoClass::Idle,
            _ => IoClass::None,
        };
        IoPriority {
            class,
            level: (raw & 7) as u8,
        }
    }
}

/// Sets the I/O priority of thread `tid` (0: the calling thread).
pub fn set(tid: i32, priority: IoPriority) -> io::Result<()> {
    // SAFETY: ioprio_set takes three integers and reads no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            WHO_PROCESS,
            tid as libc::c_int,
            priority.raw(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The I/O priority of thread `tid` (0: the calling thread).
pub fn get(tid: i32) -> io::Result<IoPriority> {
    // SAFETY: ioprio_get takes two integers and reads no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, WHO_PROCESS, tid as libc::c_int) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(IoPriority::from_raw(rc as libc::c_int))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_get_on_a_thread_of_its_own() {
        let seen = std::thread::spawn(|| {
            let idle = IoPriority {
                class: IoClass::Idle,
                level: 0,
            };
            set(0, idle).unwrap();
            get(0).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(seen.class, IoClass::Idle);
        let be = IoPriority {
            class: IoClass::BestEffort,
            level: 5,
        };
        assert_eq!(IoPriority::from_raw(be.raw()), be);
    }
}

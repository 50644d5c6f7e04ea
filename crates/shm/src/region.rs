//! `Region`: a memfd mapped `MAP_SHARED`, so parent and forked children see one memory.

use crate::Error;
use memmap2::MmapMut;
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;
use std::os::fd::AsRawFd;

/// A shared memory region: an anonymous `memfd_create` file mapped with `MAP_SHARED`.
///
/// A child forked after the region was created inherits the same mapping at the same
/// address, so writes on either side are seen on the other. The region is zero-filled when
/// created. Nobody gets a `&[u8]`/`&mut [u8]` over it: it is reached only through raw
/// pointers turned into atomics (see `Value`).
pub struct Region {
    // Held for its Drop (munmap); never dereferenced as a slice.
    _map: MmapMut,
    base: *mut u8,
    len: usize,
    file: File,
}

// SAFETY: the region is plain shared memory; every access through `base` is atomic (or to
// a lock object that is itself Sync), so sharing the handle between threads is fine.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}

impl Region {
    /// Create a zero-filled region of `len` bytes (rounded up to whole pages by the kernel).
    /// A zero `len` is [`Error::ZeroSize`], as CPython's `SharedMemory(size=0)` is a
    /// `ValueError`.
    pub fn new(len: usize) -> Result<Region, Error> {
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        let fd = memfd_create(c"procshare", MemFdCreateFlag::MFD_CLOEXEC)
            .map_err(|e| Error::os("memfd_create", e))?;
        let file = File::from(fd);
        file.set_len(len as u64)
            .map_err(|e| Error::os("ftruncate", e))?;
        // SAFETY: the file is our own anonymous memfd; nobody else has it, so it cannot be
        // truncated under the mapping. MmapMut::map_mut maps it MAP_SHARED.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| Error::os("mmap", e))?;
        let base = map.as_mut_ptr();
        Ok(Region {
            _map: map,
            base,
            len,
            file,
        })
    }

    /// Create a zero-filled region of `len` bytes whose size is *sealed*: the memfd can
    /// never be shrunk or grown again, by anybody (`F_SEAL_SHRINK | F_SEAL_GROW`, then
    /// `F_SEAL_SEAL`). A region meant for another process, which maps it with
    /// [`Region::map_sealed`], must be sealed: a file that could shrink under a mapping
    /// would turn the other process's next access into a `SIGBUS`.
    pub fn new_sealed(len: usize) -> Result<Region, Error> {
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        let fd = memfd_create(
            c"procshare-sealed",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )
        .map_err(|e| Error::os("memfd_create", e))?;
        let file = File::from(fd);
        file.set_len(len as u64)
            .map_err(|e| Error::os("ftruncate", e))?;
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: fcntl on a descriptor we own, with an integer argument.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(Error::os(
                "fcntl(F_ADD_SEALS)",
                std::io::Error::last_os_error(),
            ));
        }
        Self::map(file, len)
    }

    /// Map a memfd received from another process (e.g. over a Unix socket), after
    /// checking that it is what it must be: a regular file of exactly `len` bytes whose
    /// size is sealed against shrinking (see [`Region::new_sealed`]). Anything else is
    /// [`Error::Os`] with `EINVAL`, and nothing is mapped. The content is the sender's:
    /// the caller validates it before trusting any of it.
    pub fn map_sealed(file: File, len: usize) -> Result<Region, Error> {
        let invalid =
            |what: &'static str| Error::os(what, std::io::Error::from_raw_os_error(libc::EINVAL));
        if len == 0 {
            return Err(Error::ZeroSize);
        }
        let meta = file.metadata().map_err(|e| Error::os("fstat", e))?;
        if !meta.file_type().is_file() {
            return Err(invalid("a shared region must be a memory file"));
        }
        if meta.len() != len as u64 {
            return Err(invalid("the shared region has the wrong size"));
        }
        // SAFETY: fcntl on a descriptor we own; F_GET_SEALS takes no argument.
        let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(invalid("the shared region's size is not sealed"));
        }
        Self::map(file, len)
    }

    fn map(file: File, len: usize) -> Result<Region, Error> {
        // SAFETY: the file's size is sealed (it can never shrink under the mapping), and
        // the mapping is reached only through raw pointers turned into atomics.
        // MmapMut::map_mut maps it MAP_SHARED.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| Error::os("mmap", e))?;
        let base = map.as_mut_ptr();
        Ok(Region {
            _map: map,
            base,
            len,
            file,
        })
    }

    /// Address of the first byte. Page-aligned.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a region has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memfd behind the mapping (to hand to another process, e.g. over a socket).
    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_region_maps_again_and_an_unsealed_or_resized_file_is_refused() {
        let r = Region::new_sealed(4096).unwrap();
        // SAFETY: in bounds of a fresh region; a byte nobody else touches.
        unsafe { r.base().write(42) };
        let again = Region::map_sealed(r.file().try_clone().unwrap(), 4096).unwrap();
        // SAFETY: in bounds; the same memory, written above.
        assert_eq!(unsafe { again.base().read() }, 42);
        assert!(r.file().set_len(1).is_err(), "the size is sealed");
        assert!(Region::map_sealed(r.file().try_clone().unwrap(), 8192).is_err());
        let plain = Region::new(4096).unwrap();
        assert!(Region::map_sealed(plain.file().try_clone().unwrap(), 4096).is_err());
    }

    #[test]
    fn a_zero_sized_region_is_an_error_like_cpythons_shared_memory() {
        assert!(matches!(Region::new(0), Err(Error::ZeroSize)));
        let one = Region::new(1).unwrap();
        assert_eq!(one.len(), 1);
        assert!(!one.is_empty());
    }
}

//! `Region`: a memfd mapped `MAP_SHARED`, so parent and forked children see one memory.

use crate::Error;
use memmap2::MmapMut;
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;

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
    fn a_zero_sized_region_is_an_error_like_cpythons_shared_memory() {
        assert!(matches!(Region::new(0), Err(Error::ZeroSize)));
        let one = Region::new(1).unwrap();
        assert_eq!(one.len(), 1);
        assert!(!one.is_empty());
    }
}

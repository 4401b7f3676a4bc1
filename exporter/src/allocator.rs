//! How the process's allocator returns memory, set once at start by each binary.

/// Allocations from this size up get mappings of their own, handed back to the system when
/// freed.
///
/// glibc's malloc raises this threshold as the process frees large blocks (up to 32 MiB),
/// after which Arrow builders, encoded pages and read batches of a few MiB are served from
/// the heap, and their freed space stays resident between flushes. Measured on a
/// 2,000,000-document import (2 threads, median of 2): the default peaked at 262 MiB in
/// 24.9 s; 2 MiB at 242 MiB in 26.2 s; 1 MiB at 236 MiB in 27.2 s.
pub const MMAP_THRESHOLD_BYTES: usize = 2 << 20;

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD_BYTES`]; nothing on other allocators.
/// Call it before the first thread starts.
pub fn bound_resident_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES as libc::c_int);
    }
}

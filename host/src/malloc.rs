//! Allocator settings for a process that passes tile-sized buffers between threads.
//!
//! Every tile goes through a few buffers of 0.5–8 MiB (the file read, the encoded tile, the HTTP
//! body), allocated on one thread and freed on another. glibc serves blocks that large with
//! mmap(2) until its adaptive threshold catches up, and gives a freed heap top back to the kernel
//! once it exceeds the trim threshold; either way the next tile's buffer is fresh memory the
//! kernel must fault in and zero page by page. `scripts/bench` measured that at about a quarter of
//! the client's CPU per pass-through tile. Fixed thresholds keep such blocks in the heap for
//! reuse. Memory stays bounded: the pipeline bounds how many tiles are in flight, and the heap
//! keeps at most the trim threshold beyond what is in use.

/// Keeps blocks up to 32 MiB in the heap and at most 16 MiB of free heap top. Call once before
/// the upload starts; harmless to call again. Does nothing on other C libraries.
pub fn keep_tile_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of glibc's allocator parameters from plain integers; it is
    // thread-safe and valid at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

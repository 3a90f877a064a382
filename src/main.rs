// jemalloc, returning freed pages to the OS at once, holds a 100k-user full cycle to
// 82-85 MiB where glibc's malloc peaked at 102 MiB for the same heap (README "Scale").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's compiled-in options, read before the first allocation (the `_rjem_`
/// prefix is tikv-jemalloc-sys's symbol prefix; `_RJEM_MALLOC_CONF` still overrides).
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);
// SAFETY: a pointer to a static, immutable C string: nothing can race on it.
unsafe impl Sync for MallocConf {}
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: MallocConf = MallocConf(c"dirty_decay_ms:0,muzzy_decay_ms:0".as_ptr());

fn main() -> std::process::ExitCode {
    scim_sync::cli::main()
}

//! imp-core's examples are `#![no_std] #![no_main]` daemons on imp-rt: each is linked
//! with no C runtime, whatever the target's default (the host's `cc` would add crt1.o,
//! whose `_start` calls libc's `__libc_start_main`). `cargo xtask dist` builds `tiny`
//! with imp's own flags (rust-lld, static, no crt objects) instead: then nothing is
//! added here (lld knows no `-nostartfiles`).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.split('\x1f').any(|f| f == "-Clinker=rust-lld") {
        return;
    }
    // imp-rt's `_start` is the entry point: no crt1.o, crti.o, crtbegin.o.
    println!("cargo:rustc-link-arg-examples=-nostartfiles");
    // No libc, no libgcc: compiler_builtins and imp-rt provide what the code calls.
    println!("cargo:rustc-link-arg-examples=-nostdlib");
    // A static executable: no dynamic loader, no PT_INTERP.
    println!("cargo:rustc-link-arg-examples=-static");
    // Not position-independent: nothing would apply a PIE's relocations without libc's
    // start-up code.
    println!("cargo:rustc-link-arg-examples=-no-pie");
}

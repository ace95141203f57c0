//! imp-rt: the process runtime of a Rust program with no libc — `_start` per
//! architecture, the panic handler, and the memory functions LLVM emits calls to — so
//! that a `#![no_std] #![no_main]` daemon built on imp-core is a static binary of a few
//! KB. The `imp` binary is its first user.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use imp_core::CStrArray;
//!
//! fn main(argv: CStrArray, envp: CStrArray) -> i32 {
//!     0
//! }
//! imp_rt::main!(main);
//! ```
//!
//! Link it with no C runtime: `-nostartfiles -nostdlib -static` (imp-core's build
//! script gives these to its examples; xtask gives rust-lld's equivalents to `imp`).
//! A panic exits with status 101 (there is no unwinding: build with `panic = "abort"`).
//!
//! Non-goals: threads, thread-local storage, an allocator, `atexit`, dynamic loading,
//! auxiliary-vector parsing (no `AT_RANDOM`, no vDSO): the program gets argv and envp.
//!
//! `_start` passes the initial stack pointer to the program's entry ([`main!`]); at it
//! the kernel left
//! `argc`, then `argv[0..argc]`, a NULL, `envp[..]`, a NULL.
#![no_std]
#![cfg_attr(target_arch = "mips", feature(asm_experimental_arch))]
#![allow(unsafe_code)]

use core::ffi::c_char;
use imp_core::CStrArray;

/// Names the program's `fn(argv: CStrArray, envp: CStrArray) -> i32`: `_start` calls
/// it with the kernel's argv and envp and exits with its value.
///
/// It defines the function `_start` jumps to in the program's own crate, so that the
/// program's `main` can be inlined into it.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        /// Called by imp-rt's `_start` with the kernel's initial stack pointer.
        #[no_mangle]
        #[allow(unsafe_code)] // the one entry point: its proof is `_start`'s
        unsafe extern "C" fn __imp_rt_entry(sp: *const usize) -> ! {
            // SAFETY: only `_start` calls it, with the stack pointer the kernel gave.
            unsafe { $crate::__start(sp, $main) }
        }
    };
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call __imp_rt_entry",
    "ud2",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "mov x29, xzr",
    "mov x30, xzr",
    "mov x0, sp",
    "and sp, x0, #-16",
    "bl __imp_rt_entry",
    "udf #0",
);

// ARM: the same instructions assemble as A32 and as T32 (Thumb-2 cannot `bic` into
// sp, hence r1), so this serves the default ARM build and a `+thumb-mode` one, where
// `.thumb_func` makes the linker set the Thumb bit of the entry address.
#[cfg(all(target_arch = "arm", target_feature = "thumb-mode"))]
macro_rules! arm_entry_state {
    () => {
        ".thumb_func"
    };
}
#[cfg(all(target_arch = "arm", not(target_feature = "thumb-mode")))]
macro_rules! arm_entry_state {
    () => {
        ".arm"
    };
}
#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start, %function",
    arm_entry_state!(),
    "_start:",
    "mov fp, #0",
    "mov lr, #0",
    "mov r0, sp",
    "bic r1, r0, #15",
    "mov sp, r1",
    "bl __imp_rt_entry",
    "udf #0",
);

#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    ".option push",
    ".option norelax",
    "lla gp, __global_pointer$",
    ".option pop",
    "mv a0, sp",
    "andi sp, sp, -16",
    "call __imp_rt_entry",
    "unimp",
);

// MIPS o32 (mips and mipsel): the caller reserves 16 bytes of argument save area, and a
// callee may expect its own address in $t9, so call through $t9. `noreorder` makes the
// branch delay slots explicit. lld names the MIPS entry point `__start` (as the MIPS
// System V ABI does), so both names are defined.
#[cfg(target_arch = "mips")]
core::arch::global_asm!(
    ".globl _start",
    ".globl __start",
    "_start:",
    "__start:",
    ".set push",
    ".set noreorder",
    "move $fp, $zero",
    "move $ra, $zero",
    "move $a0, $sp",
    "li $t0, -16",
    "and $sp, $sp, $t0",
    "addiu $sp, $sp, -16",
    "la $t9, __imp_rt_entry",
    "jalr $t9",
    "nop",
    "break",
    ".set pop",
);

/// Rust side of `_start` (through [`main!`]): splits the initial stack into argv and
/// envp, runs `main` and exits with its value.
///
/// # Safety
/// `sp` must be the stack pointer the kernel handed to `_start`.
#[doc(hidden)]
#[inline(always)] // main is folded into the entry point: -80 B
pub unsafe fn __start(sp: *const usize, main: fn(CStrArray, CStrArray) -> i32) -> ! {
    // SAFETY: the kernel's initial stack layout (System V ABI, "Process Initialization"):
    // argc at sp[0], argv from sp[1] with argv[argc] == NULL, envp right after it.
    let (argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const c_char;
        (argv, argv.add(argc + 1))
    };
    // SAFETY: both arrays are NULL-terminated arrays of NUL-terminated strings that
    // live, unchanged, for the whole process.
    let code = main(unsafe { CStrArray::from_raw(argv) }, unsafe {
        CStrArray::from_raw(envp)
    });
    imp_core::exit(code)
}

#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    imp_core::exit(101)
}

// The memory functions LLVM lowers copies and comparisons to. Written with volatile
// accesses so that LLVM cannot recognise the loops as memcpy/memset idioms and turn
// them back into calls to themselves. They run on small buffers only.

/// `memcpy`
///
/// # Safety
/// The C contract: each range valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for n bytes.
        unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
        i += 1;
    }
    dst
}

/// `memmove`
///
/// # Safety
/// The C contract: each range valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        // SAFETY: forwards copy is correct when dst starts at or before src.
        return unsafe { memcpy(dst, src, n) };
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        // SAFETY: the caller guarantees both ranges are valid for n bytes.
        unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
    }
    dst
}

/// `memset`
///
/// # Safety
/// The C contract: each range valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees the range is valid for n bytes.
        unsafe { core::ptr::write_volatile(dst.add(i), c as u8) };
        i += 1;
    }
    dst
}

/// `memcmp`
///
/// # Safety
/// The C contract: each range valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for n bytes.
        let (x, y) = unsafe {
            (
                core::ptr::read_volatile(a.add(i)),
                core::ptr::read_volatile(b.add(i)),
            )
        };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// `bcmp`
///
/// # Safety
/// The C contract: each range valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// `strlen` (for `CStr::from_ptr`).
///
/// # Safety
/// `s` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    while unsafe { core::ptr::read_volatile(s.add(n)) } != 0 {
        n += 1;
    }
    n
}

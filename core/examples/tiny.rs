#![no_std]
#![no_main]
#[cfg(panic = "unwind")]
extern crate std;
use imp_core::CStrArray;
fn main(_argv: CStrArray, _envp: CStrArray) -> i32 {
    7
}
imp_rt::main!(main);

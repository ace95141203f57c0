//! Just enough of an ELF reader for `cargo xtask size`: the header, program headers
//! (is there a `PT_INTERP`?), section headers (`.text` size), `DT_NEEDED` entries and
//! the symbol table. 32- and 64-bit, either byte order; every read is bounds-checked.
//!
//! References: the System V gABI, "Object Files" (ELF header, sections, symbol
//! table, dynamic section); `elf(5)`.

/// `PT_INTERP`: the program asks for a dynamic loader.
pub const PT_INTERP: u32 = 3;
/// `PT_DYNAMIC`: the program has a dynamic section (for the loader).
pub const PT_DYNAMIC: u32 = 2;
/// `SHT_DYNAMIC`: the dynamic section.
const SHT_DYNAMIC: u32 = 6;
/// `SHT_SYMTAB`: the (static) symbol table, removed by `strip`.
const SHT_SYMTAB: u32 = 2;
/// `STT_NOTYPE`: a symbol of no given type (some assemblers' functions).
pub const STT_NOTYPE: u8 = 0;
/// `STT_FUNC`: a function.
pub const STT_FUNC: u8 = 2;
/// `SHF_ALLOC`: the section is loaded into memory.
pub const SHF_ALLOC: u64 = 0x2;
/// `SHF_EXECINSTR`: the section holds machine code.
pub const SHF_EXECINSTR: u64 = 0x4;
/// `DT_NEEDED`: a shared library the program needs.
const DT_NEEDED: u64 = 1;
/// `ET_EXEC`: a fixed-address executable (what `relocation-model=static` gives).
pub const ET_EXEC: u16 = 2;

/// A parsed ELF file; the bytes stay in memory (imp is a few KiB).
pub struct Elf {
    data: Vec<u8>,
    is64: bool,
    le: bool,
    /// `e_type`: [`ET_EXEC`] for a fixed-address executable, 3 for PIE or a library.
    pub kind: u16,
    /// `e_machine`: 62 x86-64, 183 AArch64, 40 ARM, 243 RISC-V, 8 MIPS.
    pub machine: u16,
}

/// One section header, with its name resolved.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
}

/// One program header (only the fields xtask looks at).
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub kind: u32,
}

/// One symbol table entry.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub size: u64,
    /// `st_value`: the address, in an executable.
    pub value: u64,
    /// The type from `st_info`: [`STT_FUNC`], [`STT_NOTYPE`], ...
    pub kind: u8,
    /// `st_shndx`: the index of the section the symbol is in (0: undefined).
    pub section: u16,
}

impl Elf {
    /// Parses the ELF header; fails on anything that is not ELF.
    pub fn parse(data: Vec<u8>) -> Result<Elf, String> {
        if data.len() < 52 || &data[..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        let is64 = match data[4] {
            1 => false,
            2 => true,
            c => return Err(format!("bad ELF class {c}")),
        };
        let le = match data[5] {
            1 => true,
            2 => false,
            d => return Err(format!("bad ELF data encoding {d}")),
        };
        let mut elf = Elf {
            data,
            is64,
            le,
            kind: 0,
            machine: 0,
        };
        elf.kind = elf.u16(16)?;
        elf.machine = elf.u16(18)?;
        Ok(elf)
    }

    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Elf, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Elf::parse(data).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Human name of `e_machine`, for messages.
    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            3 => "x86",
            8 => "mips",
            40 => "arm",
            62 => "x86_64",
            183 => "aarch64",
            243 => "riscv",
            _ => "other",
        }
    }

    fn bytes(&self, off: u64, len: usize) -> Result<&[u8], String> {
        let off = usize::try_from(off).map_err(|_| "offset overflow".to_string())?;
        off.checked_add(len)
            .and_then(|end| self.data.get(off..end))
            .ok_or_else(|| format!("truncated ELF (read of {len} at {off:#x})"))
    }

    fn u16(&self, off: u64) -> Result<u16, String> {
        let b: [u8; 2] = self.bytes(off, 2)?.try_into().map_err(|_| "short")?;
        Ok(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, off: u64) -> Result<u32, String> {
        let b: [u8; 4] = self.bytes(off, 4)?.try_into().map_err(|_| "short")?;
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64(&self, off: u64) -> Result<u64, String> {
        let b: [u8; 8] = self.bytes(off, 8)?.try_into().map_err(|_| "short")?;
        Ok(if self.le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// A word: 4 bytes in ELF32, 8 in ELF64 (addresses, offsets, sizes).
    fn word(&self, off: u64) -> Result<u64, String> {
        if self.is64 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }

    /// The program headers.
    pub fn segments(&self) -> Result<Vec<Segment>, String> {
        let (phoff, phentsize, phnum) = if self.is64 {
            (self.u64(32)?, self.u16(54)?, self.u16(56)?)
        } else {
            (u64::from(self.u32(28)?), self.u16(42)?, self.u16(44)?)
        };
        (0..u64::from(phnum))
            .map(|i| {
                Ok(Segment {
                    kind: self.u32(phoff + i * u64::from(phentsize))?,
                })
            })
            .collect()
    }

    /// The section headers, names resolved through `e_shstrndx`.
    pub fn sections(&self) -> Result<Vec<Section>, String> {
        let (shoff, shentsize, shnum, shstrndx) = if self.is64 {
            (self.u64(40)?, self.u16(58)?, self.u16(60)?, self.u16(62)?)
        } else {
            (
                u64::from(self.u32(32)?),
                self.u16(46)?,
                self.u16(48)?,
                self.u16(50)?,
            )
        };
        let mut raw = Vec::with_capacity(usize::from(shnum));
        for i in 0..u64::from(shnum) {
            let h = shoff + i * u64::from(shentsize);
            let name_off = u64::from(self.u32(h)?);
            let kind = self.u32(h + 4)?;
            let (flags, offset, size, link) = if self.is64 {
                (
                    self.u64(h + 8)?,
                    self.u64(h + 24)?,
                    self.u64(h + 32)?,
                    self.u32(h + 40)?,
                )
            } else {
                let f = u64::from(self.u32(h + 8)?);
                (
                    f,
                    u64::from(self.u32(h + 16)?),
                    u64::from(self.u32(h + 20)?),
                    self.u32(h + 24)?,
                )
            };
            raw.push((
                name_off,
                Section {
                    name: String::new(),
                    kind,
                    flags,
                    offset,
                    size,
                    link,
                },
            ));
        }
        let names = raw
            .get(usize::from(shstrndx))
            .map(|(_, s)| (s.offset, s.offset + s.size));
        raw.into_iter()
            .map(|(name_off, mut s)| {
                if let Some((start, end)) = names {
                    s.name = self.cstr(start + name_off, end)?;
                }
                Ok(s)
            })
            .collect()
    }

    /// A NUL-terminated string at `off`, not reading at or past `end`.
    fn cstr(&self, off: u64, end: u64) -> Result<String, String> {
        let len = end
            .checked_sub(off)
            .ok_or("string offset out of its table")?;
        let bytes = self.bytes(off, usize::try_from(len).map_err(|_| "overflow")?)?;
        let n = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..n]).into_owned())
    }

    /// True when a program header of this kind exists (`PT_INTERP`, `PT_DYNAMIC`).
    pub fn has_segment(&self, kind: u32) -> Result<bool, String> {
        Ok(self.segments()?.iter().any(|s| s.kind == kind))
    }

    /// The `DT_NEEDED` libraries named by the dynamic section (none for a static file).
    pub fn needed(&self) -> Result<Vec<String>, String> {
        let sections = self.sections()?;
        let mut out = Vec::new();
        for dynamic in sections.iter().filter(|s| s.kind == SHT_DYNAMIC) {
            let strtab = sections
                .get(dynamic.link as usize)
                .ok_or("dynamic section links to no string table")?;
            let entsize = if self.is64 { 16 } else { 8 };
            for i in 0..dynamic.size / entsize {
                let e = dynamic.offset + i * entsize;
                let tag = self.word(e)?;
                if tag == 0 {
                    break;
                }
                if tag == DT_NEEDED {
                    let val = self.word(e + entsize / 2)?;
                    out.push(self.cstr(strtab.offset + val, strtab.offset + strtab.size)?);
                }
            }
        }
        Ok(out)
    }

    /// Total size of the executable sections (`.text` and friends).
    pub fn text_size(&self) -> Result<u64, String> {
        Ok(self
            .sections()?
            .iter()
            .filter(|s| s.flags & SHF_ALLOC != 0 && s.flags & SHF_EXECINSTR != 0)
            .map(|s| s.size)
            .sum())
    }

    /// The entries of `.symtab`; empty for a stripped file.
    pub fn symbols(&self) -> Result<Vec<Symbol>, String> {
        let sections = self.sections()?;
        let mut out = Vec::new();
        for symtab in sections.iter().filter(|s| s.kind == SHT_SYMTAB) {
            let strtab = sections
                .get(symtab.link as usize)
                .ok_or("symtab links to no strtab")?;
            let entsize = if self.is64 { 24 } else { 16 };
            for i in 1..symtab.size / entsize {
                let e = symtab.offset + i * entsize;
                let name_off = u64::from(self.u32(e)?);
                let (value, size, info, section) = if self.is64 {
                    (
                        self.u64(e + 8)?,
                        self.u64(e + 16)?,
                        self.bytes(e + 4, 1)?[0],
                        self.u16(e + 6)?,
                    )
                } else {
                    (
                        u64::from(self.u32(e + 4)?),
                        u64::from(self.u32(e + 8)?),
                        self.bytes(e + 12, 1)?[0],
                        self.u16(e + 14)?,
                    )
                };
                let name = self.cstr(strtab.offset + name_off, strtab.offset + strtab.size)?;
                if !name.is_empty() {
                    out.push(Symbol {
                        name,
                        size,
                        value,
                        kind: info & 0xf,
                        section,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Why a symbol name is forbidden in imp, or `None` when it is fine.
///
/// `core::fmt` shows up as `4core3fmt` in both the legacy (`_ZN4core3fmt...`) and the
/// v0 (`_RNv...4core3fmt...`) manglings; the allocator as the `__rust_alloc` /
/// `__rdl_alloc` / `__rg_alloc` shims, the C allocator, or paths in the `alloc` crate.
pub fn forbidden(name: &str) -> Option<&'static str> {
    const ALLOC_PREFIXES: [&str; 6] = [
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rdl_",
        "__rg_",
        "__rust_no_alloc",
    ];
    const C_ALLOC: [&str; 5] = ["malloc", "calloc", "realloc", "free", "posix_memalign"];
    if name.contains("4core3fmt") || name.contains("core::fmt") {
        Some("core::fmt")
    } else if ALLOC_PREFIXES.iter().any(|p| name.starts_with(p))
        || C_ALLOC.contains(&name)
        || name.starts_with("_ZN5alloc")
        || (name.starts_with("_R") && name.contains("_5alloc"))
    {
        Some("allocator")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made ELF64 LE header with one PT_INTERP program header.
    fn tiny(interp: bool) -> Vec<u8> {
        let mut d = vec![0u8; 64 + 56];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2;
        d[5] = 1;
        d[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        d[18..20].copy_from_slice(&62u16.to_le_bytes());
        d[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        d[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        d[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let kind: u32 = if interp { PT_INTERP } else { 1 };
        d[64..68].copy_from_slice(&kind.to_le_bytes());
        d
    }

    #[test]
    fn header_and_interp() {
        let e = Elf::parse(tiny(false)).expect("parses");
        assert_eq!((e.kind, e.machine_name()), (ET_EXEC, "x86_64"));
        assert!(!e.has_segment(PT_INTERP).expect("phdrs"));
        assert!(!e.has_segment(PT_DYNAMIC).expect("phdrs"));
        assert!(Elf::parse(tiny(true))
            .expect("parses")
            .has_segment(PT_INTERP)
            .expect("phdrs"));
        assert!(e.sections().expect("no sections").is_empty());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Elf::parse(b"#!/bin/sh\n".repeat(10)).is_err());
        let mut t = tiny(false);
        t.truncate(66);
        assert!(Elf::parse(t).expect("header ok").segments().is_err());
    }

    #[test]
    fn forbidden_symbols() {
        assert_eq!(
            forbidden("_ZN4core3fmt5write17h0123456789abcdefE"),
            Some("core::fmt")
        );
        assert_eq!(forbidden("_RNvNtCs1234_4core3fmt5write"), Some("core::fmt"));
        assert_eq!(forbidden("__rust_alloc"), Some("allocator"));
        assert_eq!(forbidden("__rdl_alloc"), Some("allocator"));
        assert_eq!(forbidden("malloc"), Some("allocator"));
        assert_eq!(
            forbidden("_ZN5alloc3vec8Vec$LT$T$GT$4push17hE"),
            Some("allocator")
        );
        assert_eq!(forbidden("memcpy"), None);
        assert_eq!(forbidden("_ZN8imp_core7pidfile4lock17h00E"), None);
        assert_eq!(forbidden("_ZN4core9panicking5panic17h00E"), None);
    }

    /// The xtask binary itself is a real ELF with sections and symbols.
    #[test]
    fn reads_a_real_binary() {
        let me = std::env::current_exe().expect("current_exe");
        let e = Elf::read(&me).expect("reads itself");
        assert!(e.text_size().expect("sections") > 0);
        assert!(!e.sections().expect("sections").is_empty());
        let symbols = e.symbols().expect("symbols");
        assert!(symbols.iter().any(|s| s.kind == STT_FUNC && s.size > 0));
    }
}

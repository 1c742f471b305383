//! A `.pth` file's pickle, checked before it is read: every opcode must be one a pickle
//! of plain data uses, and every callable it names must be on a short list of data
//! constructors (tensors, storages, ordered dicts, sets, numpy scalars, argparse
//! namespaces). `pytorch-reader` never runs code either, but it leaves calls it does not
//! know as opaque values; a checkpoint that names `os.system` or `builtins.eval` is not a
//! tensor checkpoint, and we say so instead of reading around it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Callables a tensor checkpoint may name: (module, name); a name ending in `*` is a prefix.
const ALLOWED: [(&str, &str); 14] = [
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("__builtin__", "set"),
    ("torch._utils", "_rebuild_*"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "*Storage"),
    ("torch", "Size"),
    ("torch", "*"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
    ("argparse", "Namespace"),
];

/// `torch` names that are data types (`torch.float32` in `_rebuild_tensor_v3`).
const TORCH_DTYPES: [&str; 12] = [
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
];

fn allowed(module: &str, name: &str) -> bool {
    ALLOWED.iter().any(|&(m, n)| {
        m == module
            && match (n.strip_prefix('*'), n.strip_suffix('*')) {
                _ if n == "*" => module == "torch" && TORCH_DTYPES.contains(&name),
                (Some(suffix), _) => name.ends_with(suffix),
                (_, Some(prefix)) => name.starts_with(prefix),
                _ => n == name,
            }
    })
}

/// How an opcode's argument is laid out.
enum Arg {
    None,
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes.
    Counted(usize),
    /// Newline-terminated lines.
    Lines(usize),
}

fn arg_of(op: u8) -> Option<Arg> {
    use Arg::*;
    Some(match op {
        // MARK STOP POP POP_MARK DUP NONE REDUCE BUILD EMPTY_DICT APPENDS LIST EMPTY_LIST
        // TUPLE EMPTY_TUPLE SETITEMS SETITEM APPEND DICT BINPERSID
        b'(' | b'.' | b'0' | b'1' | b'2' | b'N' | b'R' | b'b' | b'}' | b'e' | b'l' | b']' | b't' | b')' | b'u'
        | b's' | b'a' | b'd' | b'Q' => None,
        // NEWTRUE NEWFALSE TUPLE1-3 EMPTY_SET ADDITEMS FROZENSET STACK_GLOBAL MEMOIZE
        0x88 | 0x89 | 0x85 | 0x86 | 0x87 | 0x8f | 0x90 | 0x91 | 0x93 | 0x94 => None,
        // OBJ NEWOBJ NEWOBJ_EX: an instance of a class from the stack, which only GLOBAL
        // or STACK_GLOBAL can have put there, after their check.
        b'o' | 0x81 | 0x92 => None,
        b'K' | b'h' | b'q' | 0x80 => Fixed(1),   // BININT1 BINGET BINPUT PROTO
        b'M' => Fixed(2),                        // BININT2
        b'J' | b'j' | b'r' => Fixed(4),          // BININT LONG_BINGET LONG_BINPUT
        b'G' | 0x95 => Fixed(8),                 // BINFLOAT FRAME
        b'U' | b'C' | 0x8c | 0x8a => Counted(1), // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE LONG1
        b'T' | b'X' | b'B' | 0x8b => Counted(4), // BINSTRING BINUNICODE BINBYTES LONG4
        0x8d | 0x8e | 0x96 => Counted(8),        // BINUNICODE8 BINBYTES8 BYTEARRAY8
        b'I' | b'L' | b'F' | b'S' | b'V' | b'P' | b'g' | b'p' => Lines(1),
        b'c' | b'i' => Lines(2), // GLOBAL, INST: module\nname\n
        // EXT1/2/4 (the copyreg extension registry), out-of-band buffers, unknown bytes.
        _ => return Option::None,
    })
}

fn op_name(op: u8) -> String {
    match op {
        0x82..=0x84 => "EXT (the copyreg extension registry)".into(),
        0x97 | 0x98 => "out-of-band buffer".into(),
        other => format!("0x{other:02x}"),
    }
}

/// Why a pickle was refused: an opcode or a call that is not plain data, or a broken
/// pickle (one line; the caller names the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl std::ops::Deref for Refused {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// Checks one pickle at the start of `bytes`; returns its length (through STOP).
pub fn scan_pickle(bytes: &[u8]) -> Result<usize, Refused> {
    scan_one(bytes).map_err(Refused)
}

fn scan_one(bytes: &[u8]) -> Result<usize, String> {
    let mut at = 0;
    let mut memo: HashMap<u64, String> = HashMap::new();
    let mut memo_count: u64 = 0;
    // The strings among the last two values pushed (for STACK_GLOBAL), and the top.
    let mut recent: [Option<String>; 2] = [None, None];
    let push = |recent: &mut [Option<String>; 2], v: Option<String>| {
        recent[0] = recent[1].take();
        recent[1] = v;
    };
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len()).ok_or("the pickle ends early")?;
        let out = &bytes[*at..end];
        *at = end;
        Ok(out)
    };
    loop {
        let op = *bytes.get(at).ok_or("the pickle ends before its STOP")?;
        at += 1;
        let arg =
            arg_of(op).ok_or_else(|| format!("pickle opcode {} is not one a tensor checkpoint uses", op_name(op)))?;
        let mut pushed: Option<Option<String>> = None;
        match arg {
            Arg::None => {}
            Arg::Fixed(n) => {
                let a = take(&mut at, n)?;
                let index = a.iter().rev().fold(0u64, |v, &b| (v << 8) | b as u64);
                match op {
                    b'h' | b'j' => pushed = Some(memo.get(&index).cloned()),
                    b'q' | b'r' => {
                        if let Some(s) = &recent[1] {
                            memo.insert(index, s.clone());
                        }
                    }
                    b'K' | b'M' | b'J' | b'G' => pushed = Some(None),
                    _ => {}
                }
            }
            Arg::Counted(width) => {
                let len = take(&mut at, width)?.iter().rev().fold(0u64, |v, &b| (v << 8) | b as u64);
                let len = usize::try_from(len).map_err(|_| "a pickle string longer than memory")?;
                let value = take(&mut at, len)?;
                let text =
                    matches!(op, 0x8c | b'X' | 0x8d | b'U' | b'T').then(|| String::from_utf8_lossy(value).into_owned());
                pushed = Some(text);
            }
            Arg::Lines(n) => {
                let mut lines = Vec::new();
                for _ in 0..n {
                    let end = bytes[at..].iter().position(|&b| b == b'\n').ok_or("a pickle line without its end")?;
                    lines.push(String::from_utf8_lossy(&bytes[at..at + end]).into_owned());
                    at += end + 1;
                }
                match op {
                    b'c' | b'i' => {
                        if !allowed(&lines[0], &lines[1]) {
                            return Err(refusal(&lines[0], &lines[1]));
                        }
                        pushed = Some(None);
                    }
                    b'g' => pushed = Some(lines[0].parse().ok().and_then(|i: u64| memo.get(&i).cloned())),
                    b'p' => {
                        if let (Ok(i), Some(s)) = (lines[0].parse::<u64>(), &recent[1]) {
                            memo.insert(i, s.clone());
                        }
                    }
                    b'V' | b'S' => pushed = Some(Some(lines[0].trim_matches(['\'', '"']).to_string())),
                    _ => pushed = Some(None),
                }
            }
        }
        match op {
            0x94 => {
                if let Some(s) = &recent[1] {
                    memo.insert(memo_count, s.clone());
                }
                memo_count += 1;
            }
            0x93 => {
                let (module, name) = (recent[0].clone().unwrap_or_default(), recent[1].clone().unwrap_or_default());
                if !allowed(&module, &name) {
                    return Err(refusal(&module, &name));
                }
                pushed = Some(None);
            }
            b'.' => return Ok(at),
            // Anything else that leaves a value on the stack hides the strings below it.
            b'N' | b'R' | b'}' | b']' | b')' | b't' | b'l' | b'd' | 0x85..=0x89 | 0x8f | 0x91 | b'Q' => {
                pushed = Some(None)
            }
            _ => {}
        }
        if let Some(v) = pushed {
            push(&mut recent, v);
        }
    }
}

fn refusal(module: &str, name: &str) -> String {
    format!(
        "refused: its pickle calls {module}.{name}, which a tensor checkpoint never does (avsl reads tensors, \
         dicts, lists and numbers from a .pth and never runs code from it)"
    )
}

/// Checks every pickle of a `.pth` file: `*/data.pkl` of the zip format, or the leading
/// pickles of the legacy format. The old tar format is left to the reader (whose own
/// unpickler never runs code either).
pub fn scan_pth(path: &Path) -> Result<(), Refused> {
    scan_file(path).map_err(Refused)
}

fn scan_file(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(|e| format!("cannot read: {e}"))?;
    if n == 4 && head == *b"PK\x03\x04" {
        let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip: {e}"))?;
        let names: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .filter(|n| n.ends_with("data.pkl"))
            .map(|n| n.into_owned())
            .collect();
        for name in names {
            let mut entry = archive.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
            // The entry's size is checked against the file before anything is allocated.
            let size = entry.size();
            if size > std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) {
                return Err(format!("{name} claims {size} bytes, more than the file holds"));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
            scan_one(&bytes).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    } else if n >= 1 && head[0] == 0x80 {
        // Legacy: magic number, protocol version, system info, the object, storage keys.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read: {e}"))?;
        let mut at = 0;
        for _ in 0..5 {
            if at >= bytes.len() {
                break;
            }
            at += scan_one(&bytes[at..])?;
        }
        Ok(())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"a": OrderedDict()}` in protocol 2, the way torch.save writes its dicts.
    fn benign() -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'X', 1, 0, 0, 0, b'a', b'c'];
        p.extend(b"collections\nOrderedDict\n");
        p.extend([b')', b'R', b's', b'.']);
        p
    }

    #[test]
    fn data_pickles_pass_and_code_is_refused_by_name() {
        assert_eq!(scan_pickle(&benign()), Ok(benign().len()));
        let mut evil = vec![0x80, 2, b'c'];
        evil.extend(b"os\nsystem\n");
        evil.extend([b'X', 2, 0, 0, 0, b'l', b's', 0x85, b'R', b'.']);
        let e = scan_pickle(&evil).unwrap_err();
        assert!(e.contains("calls os.system"), "{e}");
        // Protocol 4: the callable's names come as strings (one from the memo).
        let mut stack = vec![0x80, 4, 0x8c, 8];
        stack.extend(b"builtins");
        stack.extend([0x94, 0x8c, 4]);
        stack.extend(b"eval");
        stack.extend([0x94, 0x93, b'.']);
        assert!(scan_pickle(&stack).unwrap_err().contains("calls builtins.eval"));
        let mut memoized = vec![0x80, 4, 0x8c, 8];
        memoized.extend(b"builtins");
        memoized.extend([0x94, b'h', 0, 0x93, b'.']);
        assert!(scan_pickle(&memoized).unwrap_err().contains("calls builtins.builtins"));
        assert!(scan_pickle(&[0x80, 2, 0x82, 1, b'.']).unwrap_err().contains("EXT"));
        let mut inst = vec![b'(', b'i'];
        inst.extend(b"subprocess\nPopen\n");
        inst.push(b'.');
        assert!(scan_pickle(&inst).unwrap_err().contains("calls subprocess.Popen"));
        assert!(scan_pickle(&[0x80, 2, b'X', 255, 255, 255, 255]).unwrap_err().contains("ends early"));
        assert!(allowed("torch._utils", "_rebuild_tensor_v2") && allowed("torch", "FloatStorage"));
        assert!(allowed("torch", "bfloat16") && !allowed("torch", "load") && !allowed("torch._utils", "x"));
    }
}

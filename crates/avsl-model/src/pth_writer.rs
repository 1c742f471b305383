//! Writing a state dict as `torch.save` does (zip archive, pickle protocol 2, one
//! storage per tensor), so that `torch.load(f, weights_only=True)` and the authors'
//! scripts read what `avsl convert` writes. Only what a state dict needs is emitted: a
//! dict of dicts, float32 and int64 tensors, `_rebuild_tensor_v2`, `OrderedDict`.

use std::io::{Seek, Write};

use zip::write::SimpleFileOptions;

/// A tensor to write: float32 values or int64 values, row-major.
pub enum PthTensor<'a> {
    F32 { shape: &'a [usize], values: &'a [f32] },
    I64 { shape: &'a [usize], values: &'a [i64] },
}

impl PthTensor<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            PthTensor::F32 { shape, .. } | PthTensor::I64 { shape, .. } => shape,
        }
    }

    fn numel(&self) -> usize {
        match self {
            PthTensor::F32 { values, .. } => values.len(),
            PthTensor::I64 { values, .. } => values.len(),
        }
    }

    fn storage_type(&self) -> &'static str {
        match self {
            PthTensor::F32 { .. } => "FloatStorage",
            PthTensor::I64 { .. } => "LongStorage",
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            PthTensor::F32 { values, .. } => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            PthTensor::I64 { values, .. } => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// Pickle opcodes (protocol 2) used here.
mod op {
    pub const PROTO: u8 = 0x80;
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const BINUNICODE: u8 = b'X';
    pub const GLOBAL: u8 = b'c';
    pub const BINPERSID: u8 = b'Q';
    pub const BININT: u8 = b'J';
    pub const LONG1: u8 = 0x8a;
    pub const NEWFALSE: u8 = 0x89;
    pub const REDUCE: u8 = b'R';
    pub const SETITEM: u8 = b's';
    pub const SETITEMS: u8 = b'u';
    pub const STOP: u8 = b'.';
}

struct Pickler {
    out: Vec<u8>,
}

impl Pickler {
    fn string(&mut self, s: &str) {
        self.out.push(op::BINUNICODE);
        self.out.extend((s.len() as u32).to_le_bytes());
        self.out.extend(s.as_bytes());
    }

    fn int(&mut self, v: usize) {
        if let Ok(small) = i32::try_from(v) {
            self.out.push(op::BININT);
            self.out.extend(small.to_le_bytes());
        } else {
            self.out.push(op::LONG1);
            self.out.push(8);
            self.out.extend((v as i64).to_le_bytes());
        }
    }

    fn global(&mut self, module: &str, name: &str) {
        self.out.push(op::GLOBAL);
        self.out.extend(format!("{module}\n{name}\n").as_bytes());
    }

    fn int_tuple(&mut self, values: &[usize]) {
        if values.is_empty() {
            self.out.push(op::EMPTY_TUPLE);
            return;
        }
        self.out.push(op::MARK);
        for &v in values {
            self.int(v);
        }
        self.out.push(op::TUPLE);
    }

    /// `_rebuild_tensor_v2(persistent storage key, 0, size, stride, False, OrderedDict())`.
    fn tensor(&mut self, key: &str, t: &PthTensor) {
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.out.push(op::MARK);
        self.out.push(op::MARK);
        self.string("storage");
        self.global("torch", t.storage_type());
        self.string(key);
        self.string("cpu");
        self.int(t.numel());
        self.out.push(op::TUPLE);
        self.out.push(op::BINPERSID);
        self.int(0);
        let shape = t.shape();
        self.int_tuple(shape);
        let mut strides = vec![1usize; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        self.int_tuple(&strides);
        self.out.push(op::NEWFALSE);
        self.global("collections", "OrderedDict");
        self.out.push(op::EMPTY_TUPLE);
        self.out.push(op::REDUCE);
        self.out.push(op::TUPLE);
        self.out.push(op::REDUCE);
    }
}

/// Writes `{top_key: {name: tensor, …}}` in `torch.save`'s zip format to `out`.
pub fn write_state_dict<W: Write + Seek>(
    out: W,
    top_key: &str,
    tensors: &[(String, PthTensor)],
) -> zip::result::ZipResult<W> {
    let mut p = Pickler { out: vec![op::PROTO, 2, op::EMPTY_DICT] };
    p.string(top_key);
    p.out.push(op::EMPTY_DICT);
    if !tensors.is_empty() {
        p.out.push(op::MARK);
        for (k, (name, t)) in tensors.iter().enumerate() {
            p.string(name);
            p.tensor(&k.to_string(), t);
        }
        p.out.push(op::SETITEMS);
    }
    p.out.push(op::SETITEM);
    p.out.push(op::STOP);

    let mut zip = zip::ZipWriter::new(out);
    // Stored and 64-byte aligned, as torch writes them (so torch can memory-map them).
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).with_alignment(64);
    zip.start_file("archive/data.pkl", options)?;
    zip.write_all(&p.out)?;
    zip.start_file("archive/byteorder", options)?;
    zip.write_all(b"little")?;
    for (k, (_, t)) in tensors.iter().enumerate() {
        zip.start_file(format!("archive/data/{k}"), options)?;
        zip.write_all(&t.bytes())?;
    }
    zip.start_file("archive/version", options)?;
    zip.write_all(b"3\n")?;
    zip.finish()
}

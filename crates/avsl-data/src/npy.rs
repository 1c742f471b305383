//! float32 `.npy` arrays: how avsl exchanges maps and model inputs with numpy users.

use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{DataError, Result, read_file};
use crate::fsutil::write_atomic;

/// Serialises a C-order float32 array of the given shape.
pub fn encode_npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    assert_eq!(shape.iter().product::<usize>(), values.len(), "shape and data length disagree");
    let mut out = Vec::with_capacity(128 + values.len() * 4);
    {
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut out)
            .begin_nd()
            .expect("writing to memory cannot fail");
        w.extend(values.iter().copied()).expect("writing to memory cannot fail");
        w.finish().expect("writing to memory cannot fail");
    }
    out
}

pub fn write_npy_f32(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    write_atomic(path, &encode_npy_f32(shape, values))
}

/// Reads a float32 `.npy` (little-endian, C order) and returns its shape and values.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    decode_npy_f32(&read_file(path)?, path)
}

/// [`read_npy_f32`] on bytes already read (`path` names them in errors).
pub fn decode_npy_f32(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    check_header(bytes).map_err(|problem| DataError::invalid(path, problem))?;
    let npy = npyz::NpyFile::new(bytes).map_err(|e| DataError::invalid(path, format!("not a valid .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() != npyz::Order::C {
        return Err(DataError::invalid(path, "Fortran-ordered .npy arrays are not supported; save with C order"));
    }
    let dtype = npy.dtype();
    if dtype != npyz::DType::Plain("<f4".parse().expect("valid type string")) {
        return Err(DataError::invalid(path, format!("dtype is {}, expected float32 ('<f4')", dtype.descr())));
    }
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match count {
        Some(n) if n.checked_mul(4).is_some_and(|b| b <= bytes.len()) => {}
        _ => {
            return Err(DataError::invalid(path, format!("shape {shape:?} needs more data than the file holds")));
        }
    }
    let values = npy.into_vec::<f32>().map_err(|e| DataError::invalid(path, format!("cannot read .npy data: {e}")))?;
    Ok((shape, values))
}

/// numpy's own limit on the header (`np.load` refuses longer ones by default).
const MAX_HEADER: usize = 10_000;

/// Validates the header before npyz sees it: npyz allocates whatever length the header
/// claims (fuzzing found a 21-byte file that asked for 2.7 GB), and its header parser
/// backtracks badly on deeply nested brackets.
fn check_header(bytes: &[u8]) -> std::result::Result<(), String> {
    let not_npy = || "not a valid .npy file: missing the \\x93NUMPY magic".to_string();
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(not_npy());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("not a valid .npy file: unsupported format version {v}")),
    };
    if len > MAX_HEADER || start + len > bytes.len() {
        return Err(format!(
            "not a valid .npy file: header claims {len} bytes, the file holds {}",
            bytes.len() - start
        ));
    }
    let mut depth = 0usize;
    for &b in &bytes[start..start + len] {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 4 {
            return Err("not a valid .npy file: header nests brackets more than 4 deep".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_npy_f32(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap(), (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        assert!(read_npy_f32(&p).is_err());
        std::fs::write(&p, b"not npy").unwrap();
        assert!(read_npy_f32(&p).unwrap_err().to_string().contains("not a valid .npy"));
        // Found by fuzzing: a version-3 header claiming 2.7 GB.
        std::fs::write(&p, b"\x93NUMPY\x03\x00\x76\x00\x7b\xa4e\x00\x00\x00''0\xea?").unwrap();
        assert!(read_npy_f32(&p).unwrap_err().to_string().contains("header claims"));
    }
}

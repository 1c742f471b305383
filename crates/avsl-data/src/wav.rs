//! WAV decoding into 16-bit PCM, the format the reference pipeline converts every input to.
//!
//! The authors decode audio with PyAV and resample to `s16p` at the native rate, so every
//! encoding reaches the spectrogram as 16-bit integers. Other encodings are converted the
//! way FFmpeg's libswresample does: 8-bit `(u − 128) << 8`, 24/32-bit integers keep their
//! top 16 bits (arithmetic shift), float `clip(lrint(x · 32768))`.

use std::io::Cursor;
use std::path::Path;

use crate::error::{DataError, Problem, Result, read_file};

/// Interleaved 16-bit PCM at the file's own sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm16 {
    pub sample_rate: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

impl Pcm16 {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels as usize
    }
}

/// How the file stored its samples (for reports such as `avsl inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WavEncoding {
    pub bits_per_sample: u16,
    pub float: bool,
}

/// Reads a WAV file fully. Empty, truncated, non-WAV and unsupported files are errors that
/// name the file.
pub fn read_wav(path: &Path) -> Result<(Pcm16, WavEncoding)> {
    let bytes = read_file(path)?;
    decode_wav(&bytes).map_err(|problem| DataError::invalid(path, problem))
}

/// Decodes WAV bytes; the error is a human-readable problem (the caller adds the file name).
pub fn decode_wav(bytes: &[u8]) -> std::result::Result<(Pcm16, WavEncoding), Problem> {
    decode(bytes).map_err(Problem)
}

fn decode(bytes: &[u8]) -> std::result::Result<(Pcm16, WavEncoding), String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes), expected a WAV file".into());
    }
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(describe_hound_error)?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err("WAV header declares 0 channels".into());
    }
    if spec.sample_rate == 0 {
        return Err("WAV header declares a sample rate of 0 Hz".into());
    }
    let encoding =
        WavEncoding { bits_per_sample: spec.bits_per_sample, float: spec.sample_format == hound::SampleFormat::Float };
    let declared = reader.len() as usize;
    let samples = match packed_samples(reader, bytes) {
        Some(data) => convert_packed(data, spec.sample_format, spec.bits_per_sample)?,
        None => {
            // A container wider than its valid bits (WAVE_FORMAT_EXTENSIBLE): let hound
            // unpack it, sample by sample.
            let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(describe_hound_error)?;
            convert_with_hound(reader, spec.sample_format, spec.bits_per_sample, declared.min(bytes.len()))?
        }
    };
    if samples.len() != declared {
        return Err(format!("truncated WAV data: header declares {declared} samples, file holds {}", samples.len()));
    }
    if samples.len() % spec.channels as usize != 0 {
        return Err(format!(
            "WAV data holds {} samples, not a whole number of {}-channel frames",
            samples.len(),
            spec.channels
        ));
    }
    Ok((Pcm16 { sample_rate: spec.sample_rate, channels: spec.channels, samples }, encoding))
}

/// The raw sample bytes of a plain PCM/float file (sample width = container width), cut
/// at the end of the file; `None` when the layout needs hound's general unpacking.
fn packed_samples<'a>(reader: hound::WavReader<Cursor<&'a [u8]>>, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let spec = reader.spec();
    let declared = reader.len() as usize;
    let start = reader.into_inner().position() as usize;
    // hound leaves the cursor at the first sample, just after the 8-byte `data` header.
    let header = bytes.get(start.checked_sub(8)?..start)?;
    if &header[..4] != b"data" {
        return None;
    }
    let data_len = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
    let width = data_len.checked_div(declared).unwrap_or((spec.bits_per_sample as usize).div_ceil(8));
    if width * 8 != spec.bits_per_sample as usize {
        return None;
    }
    let end = start.saturating_add(declared * width).min(bytes.len());
    // Whole samples only: a cut inside a sample is reported as truncation by the caller.
    Some(&bytes[start..start + (end - start) / width * width])
}

fn convert_packed(data: &[u8], format: hound::SampleFormat, bits: u16) -> std::result::Result<Vec<i16>, String> {
    use hound::SampleFormat::{Float, Int};
    Ok(match (format, bits) {
        (Int, 8) => data.iter().map(|&u| ((u as i16) - 128) << 8).collect(),
        (Int, 16) => data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect(),
        (Int, 24) => data.chunks_exact(3).map(|b| i16::from_le_bytes([b[1], b[2]])).collect(),
        (Int, 32) => data.chunks_exact(4).map(|b| i16::from_le_bytes([b[2], b[3]])).collect(),
        (Float, 32) => {
            data.chunks_exact(4).map(|b| float_to_i16(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect()
        }
        (format, bits) => return Err(unsupported(format, bits)),
    })
}

fn convert_with_hound(
    reader: hound::WavReader<Cursor<&[u8]>>,
    format: hound::SampleFormat,
    bits: u16,
    capacity: usize,
) -> std::result::Result<Vec<i16>, String> {
    match (format, bits) {
        (hound::SampleFormat::Int, 1..=16) => {
            collect(reader.into_samples::<i32>(), capacity, |v| (v << (16 - bits)) as i16)
        }
        (hound::SampleFormat::Int, 17..=32) => {
            collect(reader.into_samples::<i32>(), capacity, |v| (v >> (bits - 16)) as i16)
        }
        (format, bits) => Err(unsupported(format, bits)),
    }
}

fn unsupported(format: hound::SampleFormat, bits: u16) -> String {
    format!(
        "unsupported WAV encoding: {bits}-bit {} (supported: 8/16/24/32-bit integer PCM, 32-bit float)",
        if format == hound::SampleFormat::Float { "float" } else { "integer" }
    )
}

/// libswresample's float → s16: `av_clip_int16(lrintf(x · 32768))` (round half to even).
fn float_to_i16(x: f32) -> i16 {
    let scaled = (x * 32768.0).round_ties_even();
    if scaled.is_nan() { 0 } else { scaled.clamp(-32768.0, 32767.0) as i16 }
}

fn collect<S, R: std::io::Read>(
    samples: hound::WavIntoSamples<R, S>,
    capacity: usize,
    convert: impl Fn(S) -> i16,
) -> std::result::Result<Vec<i16>, String>
where
    S: hound::Sample,
{
    let mut out = Vec::with_capacity(capacity);
    for sample in samples {
        match sample {
            Ok(v) => out.push(convert(v)),
            // hound reports a data chunk that ends early as an I/O error at the cut; the
            // length check after the loop turns it into a "truncated" error.
            Err(hound::Error::IoError(_)) => break,
            Err(e) => return Err(describe_hound_error(e)),
        }
    }
    Ok(out)
}

fn describe_hound_error(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(e) => {
            format!("truncated WAV file (ends inside its header or data: {e})")
        }
        hound::Error::FormatError(msg) => format!("not a valid WAV file: {msg}"),
        hound::Error::Unsupported => {
            "unsupported WAV encoding (supported: 8/16/24/32-bit integer PCM, 32-bit float)".into()
        }
        other => format!("cannot decode WAV: {other}"),
    }
}

/// Writes 16-bit PCM as a WAV file (used by the synthetic generator and tests).
pub fn write_wav_i16(path: &Path, pcm: &Pcm16) -> Result<()> {
    let spec = hound::WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buffer = Cursor::new(Vec::with_capacity(44 + pcm.samples.len() * 2));
    {
        let mut writer =
            hound::WavWriter::new(&mut buffer, spec).map_err(|e| DataError::invalid(path, e.to_string()))?;
        let mut w = writer.get_i16_writer(pcm.samples.len() as u32);
        for &s in &pcm.samples {
            w.write_sample(s);
        }
        w.flush().map_err(|e| DataError::invalid(path, e.to_string()))?;
        writer.finalize().map_err(|e| DataError::invalid(path, e.to_string()))?;
    }
    crate::fsutil::write_atomic(path, buffer.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(spec: hound::WavSpec, write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
            write(&mut w);
            w.finalize().unwrap();
        }
        c.into_inner()
    }

    fn spec(bits: u16, float: bool, channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 16000,
            bits_per_sample: bits,
            sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        }
    }

    #[test]
    fn converts_encodings_like_swresample() {
        let b = wav_bytes(spec(24, false, 1), |w| {
            for v in [8_388_607i32, -8_388_608, 255, -1, 256] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(decode_wav(&b).unwrap().0.samples, vec![32767, -32768, 0, -1, 1]);
        let b = wav_bytes(spec(32, true, 1), |w| {
            for v in [1.0f32, -1.0, 1.5, 0.5 / 32768.0, 1.5 / 32768.0, f32::NAN] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(decode_wav(&b).unwrap().0.samples, vec![32767, -32768, 32767, 0, 2, 0]);
        let b = wav_bytes(spec(8, false, 1), |w| {
            for v in [127i8, -128, 0] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(decode_wav(&b).unwrap().0.samples, vec![32512, -32768, 0]);
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let b = wav_bytes(spec(16, false, 2), |w| {
            for v in 0..1000i16 {
                w.write_sample(v).unwrap();
            }
        });
        let e = decode_wav(&b[..b.len() - 3]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = decode_wav(&b[..30]).unwrap_err();
        assert!(e.contains("truncated") || e.contains("not a valid"), "{e}");
        assert!(decode_wav(b"RIFF\x04\0\0\0JUNK").is_err());
        assert!(decode_wav(b"hello, not audio at all").unwrap_err().contains("not a valid WAV"));
        assert!(decode_wav(b"").unwrap_err().contains("empty"));
    }
}

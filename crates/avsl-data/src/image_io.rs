//! Image decoding to 8-bit RGB, as `PIL.Image.open(path).convert('RGB')` does.
//!
//! Grayscale is replicated to three channels, alpha is dropped (not composited), palettes
//! are expanded. JPEG is decoded by libjpeg-turbo's decoder (through the `mozjpeg` crate,
//! C code built from source: islow IDCT, "fancy" chroma upsampling), the decoder current
//! Pillow bundles, so decoded pixels are bit-identical to Pillow's (the fixture tests
//! check it). Pure-Rust decoders were measured first and differ at colour edges:
//! zune-jpeg by up to 7 levels, jpeg-decoder by up to 3 (different chroma upsampling and
//! colour-conversion rounding). The authors' pinned Pillow 8.4 used IJG libjpeg 9, which
//! differs more (docs/method.md §7 item 11); we match current Pillow.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader};

use crate::error::{DataError, Problem, Result, read_file};

/// An 8-bit RGB image, row-major, interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    pub fn new(width: usize, height: usize) -> RgbImage {
        RgbImage { width, height, data: vec![0; width * height * 3] }
    }
}

/// Largest accepted image side and pixel count: a header may claim anything, the decoder
/// must not allocate for it.
const MAX_SIDE: u32 = 16_384;
const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Reads and decodes a JPEG or PNG file (recognised by content, not by extension).
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = read_file(path)?;
    decode_rgb(&bytes).map_err(|problem| DataError::invalid(path, problem))
}

/// Decodes JPEG or PNG bytes to 8-bit RGB.
pub fn decode_rgb(bytes: &[u8]) -> std::result::Result<RgbImage, Problem> {
    decode_image(bytes).map_err(Problem)
}

fn decode_image(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes), expected a JPEG or PNG image".into());
    }
    let format =
        image::guess_format(bytes).map_err(|_| "not a JPEG or PNG image (unrecognised content)".to_string())?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(format!("unsupported image format {format:?} (expected JPEG or PNG)"));
    }
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // libjpeg only warns about a cut-off scan and fills it with grey; Pillow refuses
        // it ("image file is truncated"), and so do we.
        return Err("truncated JPEG: no end-of-image marker after the last scan".into());
    }
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| format!("cannot decode {format:?} image: {e}"))?;
    Ok(to_rgb(decoded))
}

/// libjpeg reports fatal errors by unwinding out of its error handler; the `mozjpeg`
/// wrapper turns them into Rust panics carrying the message, caught here.
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let decoded = std::panic::catch_unwind(|| -> std::io::Result<std::result::Result<RgbImage, String>> {
        let header = mozjpeg::Decompress::new_mem(bytes)?;
        let (width, height) = (header.width(), header.height());
        if width as u64 > MAX_SIDE as u64
            || height as u64 > MAX_SIDE as u64
            || (width as u64 * height as u64) > MAX_PIXELS
        {
            return Ok(Err(format!(
                "JPEG claims {width}×{height} pixels, more than avsl accepts ({MAX_SIDE} per side)"
            )));
        }
        let mut started = header.rgb()?;
        let pixels: Vec<[u8; 3]> = started.read_scanlines()?;
        started.finish()?;
        if pixels.len() != width * height {
            return Ok(Err(format!("truncated JPEG: {} of {} pixels decoded", pixels.len(), width * height)));
        }
        Ok(Ok(RgbImage { width, height, data: pixels.into_iter().flatten().collect() }))
    });
    match decoded {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(format!("cannot decode JPEG: {e}")),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("libjpeg error");
            Err(format!("corrupt JPEG: {message}"))
        }
    }
}

/// Entropy-coded data cannot contain an unescaped `FF D9`, so a complete stream has one
/// after the start of its last scan (`FF DA`); trailing bytes after it are allowed.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(start) => bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

fn to_rgb(img: DynamicImage) -> RgbImage {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let data = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        // 16-bit and float images are rare in this field; `image` scales them to 8 bits.
        other => other.to_rgb8().into_raw(),
    };
    RgbImage { width, height, data }
}

/// Encodes an RGB image as PNG bytes (lossless; for `inspect` and reports).
pub fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::write_buffer_with_format(
        &mut out,
        &img.data,
        img.width as u32,
        img.height as u32,
        image::ExtendedColorType::Rgb8,
        ImageFormat::Png,
    )
    .expect("encoding an in-memory RGB buffer cannot fail");
    out.into_inner()
}

/// Encodes an RGB image as JPEG bytes at the given quality.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&img.data, img.width as u32, img.height as u32, image::ExtendedColorType::Rgb8)
        .expect("encoding an in-memory RGB buffer cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_empty_and_truncated_are_errors() {
        assert!(decode_rgb(b"").unwrap_err().contains("empty"));
        assert!(decode_rgb(b"GIF89a....").unwrap_err().contains("unsupported"));
        assert!(decode_rgb(b"definitely not an image").unwrap_err().contains("not a JPEG or PNG"));
        let mut img = RgbImage::new(40, 30);
        img.data.iter_mut().enumerate().for_each(|(i, v)| *v = (i % 251) as u8);
        let png = encode_png(&img);
        assert_eq!(decode_rgb(&png).unwrap(), img);
        assert!(decode_rgb(&png[..png.len() / 2]).is_err());
        let jpg = encode_jpeg(&img, 90);
        assert!(decode_rgb(&jpg[..jpg.len() / 2]).unwrap_err().contains("truncated JPEG"));
        // Damage inside the header: libjpeg's fatal error becomes an error, not a panic.
        let mut bad = jpg.clone();
        bad[20..40].fill(0xFF);
        assert!(decode_rgb(&bad).unwrap_err().contains("JPEG"));
    }
}

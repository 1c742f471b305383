//! Video and audio decoding (and overlay encoding) through FFmpeg's command-line programs,
//! `ffmpeg` and `ffprobe`, run as child processes.
//!
//! Why the programs and not a binding to FFmpeg's libraries: every user of this field has
//! them already, the default build stays pure Rust with no system library (bindings need
//! FFmpeg's headers of a matching version at build time), and a crash inside a decoder on
//! a hostile file kills a child process, not avsl. Frames come through a pipe as PPM
//! images (each carries its size, so rotated videos need no special case), audio as raw
//! 16-bit little-endian PCM.
//!
//! `AVSL_FFMPEG` / `AVSL_FFPROBE` name other programs than the ones on `PATH`.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::error::{DataError, Problem, Result};
use crate::image_io::RgbImage;

/// File name extensions `avsl prepare` treats as videos.
pub const VIDEO_EXTENSIONS: [&str; 5] = ["mp4", "mkv", "webm", "avi", "mov"];

/// The located `ffmpeg` and `ffprobe` programs.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
}

/// What `ffprobe` says about a file: its duration and first video and audio streams.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Seconds (the container's, else the longest stream's).
    pub duration: f64,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoStream {
    pub width: usize,
    pub height: usize,
    /// Average frames per second (0 when the container does not say).
    pub fps: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioStream {
    pub sample_rate: u32,
    pub channels: u32,
}

fn program(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

fn runs(program: &Path) -> bool {
    Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The last non-empty line FFmpeg printed on stderr: its reason for failing.
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message").to_string()
}

/// How much of a streaming child's stderr is kept (its end says why it failed).
const STDERR_TAIL: usize = 64 * 1024;

/// A streaming child's stderr, read on its own thread: a decoder that prints thousands of
/// warnings on a damaged file must not block on a full pipe while we read its frames (or
/// an encoder while we write them). The last [`STDERR_TAIL`] bytes are kept.
struct StderrTail(Option<std::thread::JoinHandle<Vec<u8>>>);

impl StderrTail {
    fn of(child: &mut Child) -> StderrTail {
        StderrTail(child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let (mut tail, mut buf) = (Vec::new(), [0u8; 8192]);
                while let Ok(n @ 1..) = stderr.read(&mut buf) {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
                tail
            })
        }))
    }

    /// The last line printed; call once the child has ended (or it waits for that).
    fn last_line(&mut self) -> String {
        let bytes = self.0.take().and_then(|h| h.join().ok()).unwrap_or_default();
        last_line(&bytes)
    }
}

impl Ffmpeg {
    /// Finds both programs, or says in one line what to install.
    pub fn locate() -> std::result::Result<Ffmpeg, Problem> {
        let ffmpeg = program("AVSL_FFMPEG", "ffmpeg");
        let ffprobe = program("AVSL_FFPROBE", "ffprobe");
        for (p, env) in [(&ffmpeg, "AVSL_FFMPEG"), (&ffprobe, "AVSL_FFPROBE")] {
            if !runs(p) {
                return Err(Problem(format!(
                    "{} not found or not working: install FFmpeg (Debian/Ubuntu: apt install ffmpeg; macOS: brew \
                     install ffmpeg; Windows: winget install ffmpeg), or set {env} to the program",
                    p.display()
                )));
            }
        }
        Ok(Ffmpeg { ffmpeg, ffprobe })
    }

    fn ffmpeg_command(&self) -> Command {
        let mut c = Command::new(&self.ffmpeg);
        c.args(["-hide_banner", "-nostdin", "-v", "error"]);
        c
    }

    /// Runs to completion and returns stdout; a failure names `path` with FFmpeg's reason.
    fn output(&self, mut command: Command, path: &Path, what: &str) -> Result<Vec<u8>> {
        // In a process group of its own: a Ctrl-C at the terminal reaches avsl alone, which
        // lets the file in hand finish (`avsl prepare`) instead of FFmpeg dying under it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let out = command.stdin(Stdio::null()).output().map_err(|e| DataError::io(path, e))?;
        if !out.status.success() {
            return Err(DataError::invalid(path, format!("{what}: {}", last_line(&out.stderr))));
        }
        Ok(out.stdout)
    }

    /// Duration and streams of a media file.
    pub fn probe(&self, path: &Path) -> Result<Probe> {
        let mut c = Command::new(&self.ffprobe);
        c.args(["-v", "error", "-show_entries"])
            .arg("format=duration:stream=codec_type,width,height,avg_frame_rate,sample_rate,channels,duration")
            .args(["-of", "json"])
            .arg(path);
        let out = self.output(c, path, "not a readable media file")?;
        parse_probe(&out).map_err(|p| DataError::invalid(path, p))
    }

    /// The frame shown at `seconds` (the first one at or after it), as RGB.
    pub fn frame_at(&self, path: &Path, seconds: f64, threads: usize) -> Result<RgbImage> {
        let mut c = self.ffmpeg_command();
        c.args(["-threads", &threads.to_string(), "-ss", &format!("{seconds:.6}")]).arg("-i").arg(path).args([
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "ppm",
            "-",
        ]);
        let out = self.output(c, path, "cannot decode a frame")?;
        let mut reader = &out[..];
        match read_ppm(&mut reader) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(DataError::invalid(path, format!("no video frame at {seconds:.2} s"))),
            Err(p) => Err(DataError::invalid(path, p)),
        }
    }

    /// The first audio stream, mixed to mono and resampled to `sample_rate`, as 16-bit
    /// samples (FFmpeg's resampler and down-mix).
    pub fn audio_mono(&self, path: &Path, sample_rate: u32, threads: usize) -> Result<Vec<i16>> {
        self.audio_mono_window(path, sample_rate, threads, None)
    }

    /// [`Ffmpeg::audio_mono`] of `window` = (start, seconds) only, or of the whole stream.
    pub fn audio_mono_window(
        &self,
        path: &Path,
        sample_rate: u32,
        threads: usize,
        window: Option<(f64, f64)>,
    ) -> Result<Vec<i16>> {
        let mut c = self.ffmpeg_command();
        c.args(["-threads", &threads.to_string()]);
        if let Some((start, seconds)) = window {
            // Input seeking decodes from the key frame before and drops up to `start`: exact.
            c.args(["-ss", &format!("{start:.6}"), "-t", &format!("{seconds:.6}")]);
        }
        c.arg("-i").arg(path).args([
            "-map",
            "0:a:0",
            "-vn",
            "-ac",
            "1",
            "-ar",
            &sample_rate.to_string(),
            "-c:a",
            "pcm_s16le",
            "-f",
            "s16le",
            "-",
        ]);
        let out = self.output(c, path, "cannot decode the audio")?;
        Ok(out.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
    }

    /// Every frame of the first video stream resampled to a constant `fps` (frame i shows
    /// time i/fps), streamed.
    pub fn frames(&self, path: &Path, fps: f64) -> Result<FrameReader> {
        let mut c = self.ffmpeg_command();
        c.arg("-i").arg(path).args([
            "-map",
            "0:v:0",
            "-vf",
            &format!("fps={fps}"),
            "-f",
            "image2pipe",
            "-c:v",
            "ppm",
            "-",
        ]);
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DataError::io(path, e))?;
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped stdout"));
        let stderr = StderrTail::of(&mut child);
        Ok(FrameReader { child, stdout, stderr, path: path.to_path_buf() })
    }

    /// An H.264 (yuv420p) MP4 encoder fed RGB frames on a pipe, with the first audio stream
    /// of `audio_from` copied in (re-encoded as AAC). Writes `out` (give it a temporary
    /// name: the caller renames it when [`VideoWriter::finish`] succeeds).
    pub fn writer(&self, out: &Path, width: usize, height: usize, fps: f64, audio_from: &Path) -> Result<VideoWriter> {
        let mut c = self.ffmpeg_command();
        c.args(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{width}x{height}")])
            .args(["-r", &format!("{fps}"), "-i", "-", "-i"])
            .arg(audio_from)
            .args(["-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20"])
            // yuv420p needs even sides; the frame is padded by at most one pixel.
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"])
            .args(["-shortest", "-movflags", "+faststart", "-f", "mp4"])
            .arg(out);
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DataError::io(out, e))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = StderrTail::of(&mut child);
        Ok(VideoWriter { child, stdin: Some(stdin), stderr, path: out.to_path_buf(), width, height })
    }
}

/// Frames from a decoding `ffmpeg`, in order.
pub struct FrameReader {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: StderrTail,
    path: PathBuf,
}

impl FrameReader {
    /// The next frame; `None` at the end of the stream. A decoder that fails says why.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        match read_ppm(&mut self.stdout) {
            Ok(Some(frame)) => Ok(Some(frame)),
            Ok(None) => {
                let status = self.child.wait().map_err(|e| DataError::io(&self.path, e))?;
                if status.success() {
                    Ok(None)
                } else {
                    let reason = self.stderr.last_line();
                    Err(DataError::invalid(&self.path, format!("cannot decode the video: {reason}")))
                }
            }
            Err(p) => {
                // The decoder may still be writing: stop it before asking what it said.
                let _ = self.child.kill();
                let _ = self.child.wait();
                let reason = self.stderr.last_line();
                Err(DataError::invalid(&self.path, format!("{p} ({reason})")))
            }
        }
    }
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Frames into an encoding `ffmpeg`.
pub struct VideoWriter {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: StderrTail,
    path: PathBuf,
    width: usize,
    height: usize,
}

impl VideoWriter {
    pub fn write_frame(&mut self, frame: &RgbImage) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(DataError::invalid(
                &self.path,
                format!("frame of {}x{} for a {}x{} video", frame.width, frame.height, self.width, self.height),
            ));
        }
        let stdin = self.stdin.as_mut().expect("open until finish");
        if stdin.write_all(&frame.data).is_err() {
            // The encoder exited: its own message says why.
            return Err(self.failure());
        }
        Ok(())
    }

    /// Closes the stream and waits for the encoder.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| DataError::io(&self.path, e))?;
        if status.success() { Ok(()) } else { Err(self.failure()) }
    }

    fn failure(&mut self) -> DataError {
        drop(self.stdin.take());
        let _ = self.child.wait();
        DataError::invalid(&self.path, format!("cannot encode the video: {}", self.stderr.last_line()))
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            drop(self.stdin.take());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Largest frame side accepted from the decoder (FFmpeg's own limit is 16384 too).
const MAX_SIDE: usize = 16_384;

/// One binary PPM (`P6`, maxval 255) from `r`; `None` at a clean end of input.
fn read_ppm(r: &mut impl Read) -> std::result::Result<Option<RgbImage>, String> {
    let mut fields = Vec::new();
    let mut token = Vec::new();
    let mut byte = [0u8; 1];
    let mut first = true;
    // Four whitespace-separated fields (magic, width, height, maxval), then one whitespace.
    while fields.len() < 4 {
        let n = r.read(&mut byte).map_err(|e| format!("reading the decoder's output: {e}"))?;
        if n == 0 {
            if first {
                return Ok(None);
            }
            return Err("the decoder's output ended inside a frame header".into());
        }
        first = false;
        if byte[0].is_ascii_whitespace() {
            if !token.is_empty() {
                fields.push(std::mem::take(&mut token));
            }
        } else if token.len() < 16 {
            token.push(byte[0]);
        } else {
            return Err("the decoder's output is not a PPM stream".into());
        }
    }
    let text: Vec<String> = fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    let number = |s: &str| s.parse::<usize>().map_err(|_| format!("bad PPM header field {s:?}"));
    if text[0] != "P6" || number(&text[3])? != 255 {
        return Err(format!("unexpected frame format {} (maxval {})", text[0], text[3]));
    }
    let (width, height) = (number(&text[1])?, number(&text[2])?);
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("frame of {width}x{height} pixels"));
    }
    let mut data = vec![0u8; width * height * 3];
    r.read_exact(&mut data).map_err(|_| "the decoder's output ended inside a frame".to_string())?;
    Ok(Some(RgbImage { width, height, data }))
}

fn parse_probe(json: &[u8]) -> std::result::Result<Probe, String> {
    let v: Value = serde_json::from_slice(json).map_err(|e| format!("ffprobe printed no readable description: {e}"))?;
    let number = |x: &Value| -> Option<f64> {
        match x {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    };
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let mut duration = number(&v["format"]["duration"]).filter(|d| d.is_finite() && *d > 0.0);
    let mut video = None;
    let mut audio = None;
    let mut longest: f64 = 0.0;
    for s in &streams {
        if let Some(d) = number(&s["duration"]).filter(|d| d.is_finite()) {
            longest = longest.max(d);
        }
        match s["codec_type"].as_str() {
            Some("video") if video.is_none() => {
                let (Some(w), Some(h)) = (s["width"].as_u64(), s["height"].as_u64()) else { continue };
                let fps = s["avg_frame_rate"].as_str().and_then(parse_rate).unwrap_or(0.0);
                video = Some(VideoStream { width: w as usize, height: h as usize, fps });
            }
            Some("audio") if audio.is_none() => {
                let sample_rate = number(&s["sample_rate"]).unwrap_or(0.0) as u32;
                let channels = s["channels"].as_u64().unwrap_or(0) as u32;
                if sample_rate > 0 && channels > 0 {
                    audio = Some(AudioStream { sample_rate, channels });
                }
            }
            _ => {}
        }
    }
    if duration.is_none() && longest > 0.0 {
        duration = Some(longest);
    }
    Ok(Probe { duration: duration.unwrap_or(0.0), video, audio })
}

/// `"30000/1001"` → 29.97; `"0/0"` → None.
fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_stream_reads_frames_then_ends() {
        let mut bytes = b"P6\n2 1\n255\n".to_vec();
        bytes.extend([1, 2, 3, 4, 5, 6]);
        bytes.extend(b"P6\n1 1\n255\n");
        bytes.extend([7, 8, 9]);
        let mut r = &bytes[..];
        let a = read_ppm(&mut r).unwrap().unwrap();
        assert_eq!((a.width, a.height, a.data.clone()), (2, 1, vec![1, 2, 3, 4, 5, 6]));
        let b = read_ppm(&mut r).unwrap().unwrap();
        assert_eq!(b.data, vec![7, 8, 9]);
        assert!(read_ppm(&mut r).unwrap().is_none());
    }

    #[test]
    fn ppm_refuses_cut_frames_and_huge_headers() {
        let mut r = &b"P6\n2 2\n255\n\x01\x02"[..];
        assert!(read_ppm(&mut r).unwrap_err().contains("ended inside a frame"));
        let mut r = &b"P6\n100000 100000\n255\n"[..];
        assert!(read_ppm(&mut r).unwrap_err().contains("100000x100000"));
        let mut r = &b"P5\n2 2\n255\n"[..];
        assert!(read_ppm(&mut r).unwrap_err().contains("P5"));
    }

    /// A child that floods stderr (far beyond a pipe's 64 KiB) while writing stdout: read
    /// on its own thread, it cannot block us, and its last line is kept.
    #[cfg(unix)]
    #[test]
    fn a_flood_on_stderr_does_not_block_the_stream() {
        let mut child = Command::new("sh")
            .args(["-c", "head -c 1000000 /dev/zero | tr '\\0' 'x' >&2; echo >&2; echo last words >&2; echo frames"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut tail = StderrTail::of(&mut child);
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(out, "frames\n");
        assert_eq!(tail.last_line(), "last words");
    }

    #[test]
    fn probe_json_gives_streams_and_duration() {
        let json = br#"{"streams":[{"codec_type":"video","width":640,"height":360,"avg_frame_rate":"30000/1001"},
            {"codec_type":"audio","sample_rate":"44100","channels":2,"duration":"9.5"}],
            "format":{"duration":"10.0"}}"#;
        let p = parse_probe(json).unwrap();
        assert_eq!(p.duration, 10.0);
        assert_eq!(p.video.unwrap().width, 640);
        assert!((p.video.unwrap().fps - 29.97002997).abs() < 1e-6);
        assert_eq!(p.audio, Some(AudioStream { sample_rate: 44100, channels: 2 }));
        let p = parse_probe(
            br#"{"streams":[{"codec_type":"audio","sample_rate":"16000","channels":1,"duration":"2.5"}],"format":{}}"#,
        )
        .unwrap();
        assert_eq!((p.duration, p.video), (2.5, None));
        assert_eq!(parse_rate("0/0"), None);
    }
}

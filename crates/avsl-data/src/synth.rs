//! A synthetic audio-visual benchmark in the VGG-SS layout, learnable in minutes on a CPU.
//!
//! Each scene is a noisy grey frame with two objects of distinct classes, one per half of
//! the frame (split left/right or top/bottom at random), so a centre prior cannot localise
//! them. A class is a shape × colour (six classes, or nine with yellow shapes); one object
//! is the sound source and its
//! class fixes the timbre of the clip (a harmonic tone whose pitch steps by a factor 1.45
//! from class to class, with class-specific roll-off and amplitude modulation, plus
//! noise). These choices follow docs/synthetic.md's measurements of what a small network
//! learns in minutes (twelve classes a third of an octave apart, three objects per scene
//! and 30% small sources stayed at chance for 120 steps, in PyTorch as in avsl).
//! Extended-set negatives are of two kinds: mismatched pairs (a test frame with the audio
//! of another clip whose class is not in that frame) and scenes whose sounding class is not
//! visible at all. Clips vary in length (some shorter than the 3 s window, so they are
//! tiled), channels (some stereo) and, for one test clip in ten, sample rate (22.05 or
//! 44.1 kHz instead of 16), so the real input paths are exercised. With
//! `silent_distractors` the second object of a training scene is a green shape, a class
//! that never sounds (docs/synthetic.md: a sounding distractor makes another clip's sound
//! a negative for an object the frame shows). Everything is a pure function of the
//! configuration and (seed, split, index).

use std::path::{Path, PathBuf};

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::Result;
use crate::fsutil::{create_dir_all, write_atomic};
use crate::image_io::{RgbImage, encode_jpeg, encode_png};
use crate::wav::{Pcm16, write_wav_i16};

pub const SHAPES: [&str; 3] = ["box", "disc", "striped box"];
/// Colours of sounding objects. Classes 0–5 are shape × red/blue (class = 2·shape +
/// colour); a nine-class benchmark adds yellow shapes as classes 6–8.
pub const COLOURS: [(&str, [u8; 3]); 3] = [("red", [220, 40, 40]), ("blue", [40, 80, 230]), ("yellow", [225, 190, 30])];
/// Sounding classes of the default benchmark, and the most a benchmark can have.
pub const NUM_CLASSES: usize = 6;
pub const MAX_CLASSES: usize = 9;
/// Objects of this colour never sound: classes `MAX_CLASSES + shape`.
pub const SILENT_COLOUR: (&str, [u8; 3]) = ("green", [40, 170, 70]);

/// The training scenes' classes, `id,class` per line, under the dataset root.
pub const TRAIN_CLASSES: &str = "metadata/train_classes.csv";

/// An object class's shape index and colour.
fn look(class: usize) -> (usize, (&'static str, [u8; 3])) {
    match class {
        c if c < NUM_CLASSES => (c / 2, COLOURS[c % 2]),
        c if c < MAX_CLASSES => (c - NUM_CLASSES, COLOURS[2]),
        c => (c - MAX_CLASSES, SILENT_COLOUR),
    }
}

/// Human-readable class name, e.g. `"blue disc"`.
pub fn class_name(class: usize) -> String {
    let (shape, colour) = look(class);
    format!("{} {}", colour.0, SHAPES[shape])
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthConfig {
    pub seed: u64,
    /// Training scenes (listed in `metadata/train.txt`).
    pub train: usize,
    /// Test scenes with a visible source (`metadata/vggss_test.csv`).
    pub test: usize,
    /// Non-sounding test pairs (`metadata/vggss_test_plus_silent.csv`); half mismatched
    /// pairs, half scenes whose source is not visible.
    pub negatives: usize,
    /// Probability that a source is small or medium (below a quarter of the frame).
    pub small_fraction: f64,
    /// Multi-source test scenes in the IS3 layout (`images/`, `audio_wav/`,
    /// `metadata/is3.json`): both objects of a scene sound, each in its own clip.
    pub interactive: usize,
    /// Training scenes pair their source with an object of a class that never sounds.
    pub silent_distractors: bool,
    /// Large objects fill nearly all of their half of the frame (88–98% across it, 80–98%
    /// along it, instead of 78–96% and 62–92%): relative prediction marks half the frame,
    /// so a map that marks the whole source then reaches cIoU ≈ 0.8 instead of ≈ 0.65.
    pub filled_halves: bool,
    /// Sounding classes, 3 to 9: the first six are the red and blue shapes, 7–9 add
    /// yellow ones (`avsl synth --classes` offers 6 and 9).
    pub classes: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 0,
            train: 2000,
            test: 300,
            negatives: 150,
            small_fraction: 0.15,
            interactive: 0,
            silent_distractors: false,
            filled_halves: false,
            classes: NUM_CLASSES,
        }
    }
}

/// A drawn object: its class and normalised box `[xmin, ymin, xmax, ymax]`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SceneObject {
    pub class: usize,
    pub bbox: [f64; 4],
}

/// One generated scene (frame + the clip of its sounding class).
#[derive(Debug, Clone)]
pub struct Scene {
    pub id: String,
    pub objects: Vec<SceneObject>,
    /// Index into `objects` of the sound source, `None` when the source is not visible.
    pub source: Option<usize>,
    pub sound_class: usize,
    pub frame: RgbImage,
    pub audio: Pcm16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Test,
    Hidden,
    Interactive,
}

impl Split {
    fn tag(self) -> u64 {
        match self {
            Split::Train => 1,
            Split::Test => 2,
            Split::Hidden => 3,
            Split::Interactive => 4,
        }
    }
}

fn rng_for(seed: u64, split: Split, index: usize) -> ChaCha8Rng {
    let mut z = seed ^ (split.tag() << 56) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

/// Picks `count` distinct classes, none of them `exclude`.
fn distinct_classes(rng: &mut impl Rng, classes: usize, count: usize, exclude: Option<usize>) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..classes).filter(|&c| Some(c) != exclude).collect();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(pool.swap_remove(rng.random_range(0..pool.len())));
    }
    out
}

/// Object boxes, one per region: the frame is cut into `n` equal strips along a random
/// axis, and each object is placed at a random position inside its strip. A large object
/// covers most of its strip, nearly all of it when `filled`.
fn layout(rng: &mut impl Rng, n: usize, large: &[bool], filled: bool) -> Vec<[f64; 4]> {
    let vertical_strips = rng.random_bool(0.5);
    (0..n)
        .map(|i| {
            let (lo, hi) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
            let strip = hi - lo;
            // Extents as fractions of the strip (across) and of the frame (along).
            let (across, along) = if large[i] && filled {
                (rng.random_range(0.88..0.98), rng.random_range(0.8..0.98))
            } else if large[i] {
                (rng.random_range(0.78..0.96), rng.random_range(0.62..0.92))
            } else {
                (rng.random_range(0.3..0.6), rng.random_range(0.18..0.4))
            };
            let w_across = across * strip;
            let start_across = lo + rng.random_range(0.0..=(strip - w_across));
            let start_along = rng.random_range(0.0..=(1.0 - along));
            if vertical_strips {
                [start_across, start_along, start_across + w_across, start_along + along]
            } else {
                [start_along, start_across, start_along + along, start_across + w_across]
            }
        })
        .collect()
}

fn draw_scene(rng: &mut impl Rng, objects: &[SceneObject]) -> RgbImage {
    const SIZES: [(usize, usize); 3] = [(224, 224), (256, 256), (320, 240)];
    let (w, h) = SIZES[rng.random_range(0..SIZES.len())];
    let base = rng.random_range(90.0..160.0f64);
    let gradient = rng.random_range(-30.0..30.0f64);
    let mut img = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let v = base + gradient * (x as f64 / w as f64 - 0.5) + rng.random_range(-18.0..18.0);
            let i = (y * w + x) * 3;
            img.data[i..i + 3].fill(v.clamp(0.0, 255.0) as u8);
        }
    }
    for obj in objects {
        draw_object(&mut img, obj, rng);
    }
    img
}

/// The pixels an object covers on a `width`×`height` frame: `(x, y, v)` with `v` the row's
/// position inside the object's box in [0, 1] (for the stripes).
fn object_pixels(obj: &SceneObject, width: usize, height: usize) -> impl Iterator<Item = (usize, usize, f64)> {
    let (w, h) = (width as f64, height as f64);
    let [x0, y0, x1, y1] = obj.bbox;
    let (px0, py0) = ((x0 * w).round() as usize, (y0 * h).round() as usize);
    let (px1, py1) = (((x1 * w).round() as usize).min(width), ((y1 * h).round() as usize).min(height));
    let shape = look(obj.class).0;
    let (bw, bh) = ((px1 - px0).max(1) as f64, (py1 - py0).max(1) as f64);
    (py0..py1).flat_map(move |y| (px0..px1).map(move |x| (x, y))).filter_map(move |(x, y)| {
        // Coordinates inside the box in [0, 1].
        let (u, v) = ((x - px0) as f64 / bw, (y - py0) as f64 / bh);
        let inside = shape != 1 || (u - 0.5).powi(2) + (v - 0.5).powi(2) <= 0.25;
        inside.then_some((x, y, v))
    })
}

/// An object's segmentation mask on its frame: 255 where it is drawn, 0 elsewhere.
fn object_mask(obj: &SceneObject, width: usize, height: usize) -> RgbImage {
    let mut mask = RgbImage::new(width, height);
    for (x, y, _) in object_pixels(obj, width, height) {
        mask.data[(y * width + x) * 3..][..3].fill(255);
    }
    mask
}

fn draw_object(img: &mut RgbImage, obj: &SceneObject, rng: &mut impl Rng) {
    let (shape, (_, colour)) = look(obj.class);
    let shade = rng.random_range(0.85..1.1f64);
    for (x, y, v) in object_pixels(obj, img.width, img.height) {
        let stripe = if shape == 2 && ((v * 8.0) as usize) % 2 == 1 { 0.45 } else { 1.0 };
        let i = (y * img.width + x) * 3;
        for (dst, &base) in img.data[i..i + 3].iter_mut().zip(&colour) {
            let noisy = base as f64 * shade * stripe + rng.random_range(-10.0..10.0);
            *dst = noisy.clamp(0.0, 255.0) as u8;
        }
    }
}

/// The clip of a sounding class: harmonic tone (pitch, roll-off and modulation depend on
/// the class), random phase and detune, plus white noise.
fn synth_audio(rng: &mut impl Rng, class: usize, split: Split) -> Pcm16 {
    let sample_rate = if split == Split::Train {
        16_000
    } else {
        match rng.random_range(0..20) {
            0 => 22_050,
            1 => 44_100,
            _ => 16_000,
        }
    };
    let seconds = if rng.random_bool(0.2) { rng.random_range(1.0..2.9) } else { rng.random_range(3.5..6.0) };
    let channels: u16 = if rng.random_bool(0.25) { 2 } else { 1 };
    let n = (seconds * sample_rate as f64) as usize;
    let f0 = 180.0 * 1.45f64.powi(class as i32) * rng.random_range(0.97..1.03);
    let rolloff: f64 = [0.3, 0.55, 0.8][class % 3];
    let am_rate = 1.5 + 2.5 * (class % 4) as f64;
    let amplitude = rng.random_range(0.25..0.55) * 32767.0;
    let noise = rng.random_range(0.03..0.12);
    let phases: Vec<f64> = (0..5).map(|_| rng.random_range(0.0..std::f64::consts::TAU)).collect();
    let norm: f64 = (0..5).map(|h| rolloff.powi(h)).sum();
    // Oscillators as rotating phasors (one complex multiply per sample instead of a sine).
    let sr = sample_rate as f64;
    let mut partials: Vec<Phasor> = phases
        .iter()
        .enumerate()
        .filter(|(h, _)| f0 * ((*h + 1) as f64) < sr / 2.0)
        .map(|(h, &phase)| Phasor::new(f0 * (h + 1) as f64 / sr, phase, rolloff.powi(h as i32)))
        .collect();
    let mut am = Phasor::new(am_rate / sr, 0.0, 1.0);
    let mut samples = Vec::with_capacity(n * channels as usize);
    for _ in 0..n {
        let tone: f64 = partials.iter_mut().map(Phasor::next).sum();
        let envelope = 0.6 + 0.4 * am.next();
        let clean = tone / norm * envelope;
        for _ in 0..channels {
            let v = (clean + noise * rng.random_range(-1.0..1.0)) * amplitude;
            samples.push(v.clamp(-32768.0, 32767.0) as i16);
        }
    }
    Pcm16 { sample_rate, channels, samples }
}

/// A sine oscillator `gain · sin(2π·cycles_per_sample·i + phase)`, advanced by rotation.
struct Phasor {
    re: f64,
    im: f64,
    step_re: f64,
    step_im: f64,
    gain: f64,
}

impl Phasor {
    fn new(cycles_per_sample: f64, phase: f64, gain: f64) -> Phasor {
        let w = std::f64::consts::TAU * cycles_per_sample;
        Phasor { re: phase.cos(), im: phase.sin(), step_re: w.cos(), step_im: w.sin(), gain }
    }

    /// The current value, then one sample forward.
    fn next(&mut self) -> f64 {
        let value = self.gain * self.im;
        let re = self.re * self.step_re - self.im * self.step_im;
        self.im = self.re * self.step_im + self.im * self.step_re;
        self.re = re;
        value
    }
}

/// A scene whose sound source is visible (`visible_source`) or absent from the frame.
fn scene_id(split: Split, index: usize) -> String {
    let prefix = match split {
        Split::Train => "synth_train",
        Split::Test => "synth_test",
        Split::Hidden => "synth_silent",
        Split::Interactive => "synth_is3",
    };
    format!("{prefix}_{index:06}")
}

fn make_scene(config: &SynthConfig, split: Split, index: usize) -> Scene {
    let mut rng = rng_for(config.seed, split, index);
    let n_objects = 2;
    let id = scene_id(split, index);
    let (objects, source, sound_class) = if split == Split::Hidden {
        let sound_class = rng.random_range(0..config.classes);
        let classes = distinct_classes(&mut rng, config.classes, n_objects, Some(sound_class));
        let large: Vec<bool> = (0..n_objects).map(|_| rng.random_bool(0.6)).collect();
        let boxes = layout(&mut rng, n_objects, &large, config.filled_halves);
        let objects = classes.into_iter().zip(boxes).map(|(class, bbox)| SceneObject { class, bbox }).collect();
        (objects, None, sound_class)
    } else {
        let mut classes = distinct_classes(&mut rng, config.classes, n_objects, None);
        let source = rng.random_range(0..n_objects);
        if config.silent_distractors && split == Split::Train {
            classes[1 - source] = MAX_CLASSES + rng.random_range(0..SHAPES.len());
        }
        let large: Vec<bool> = (0..n_objects)
            .map(|i| if i == source { !rng.random_bool(config.small_fraction) } else { rng.random_bool(0.6) })
            .collect();
        let boxes = layout(&mut rng, n_objects, &large, config.filled_halves);
        let objects: Vec<SceneObject> =
            classes.into_iter().zip(boxes).map(|(class, bbox)| SceneObject { class, bbox }).collect();
        let sound_class = objects[source].class;
        (objects, Some(source), sound_class)
    };
    let frame = draw_scene(&mut rng, &objects);
    let audio = synth_audio(&mut rng, sound_class, split);
    Scene { id, objects, source, sound_class, frame, audio }
}

/// Number of scenes `generate` writes for a configuration (for progress bars).
pub fn scene_count(config: &SynthConfig) -> usize {
    config.train + config.test + config.negatives / 2 + config.interactive
}

/// The name of an object of a class inside a pair name: no `_`, which separates the
/// image from the source (`synth_is3_000003_blue-disc`).
fn source_slug(class: usize) -> String {
    class_name(class).replace(' ', "-")
}

#[derive(serde::Serialize)]
struct SourceRecord {
    image: String,
    audio: String,
    gt_box: [f64; 4],
}

/// An entry of the mask list, as the authors' `synthetic3240_seg.json` writes it.
#[derive(serde::Serialize)]
struct MaskRecord {
    image: String,
    audio: String,
    gt_box: String,
    offset: u32,
}

/// One multi-source scene: two objects of distinct classes, one per half, both sounding.
/// The frame is written once per source (`images/<scene>_<class>.jpg`, as IS3 stores it),
/// with that source's clip (`audio_wav/<scene>_<class>.wav`) and mask
/// (`gt_masks/<scene>_<class>.png`); boxes are in pixels of the 224×224 network input.
fn write_interactive_scene(root: &Path, config: &SynthConfig, index: usize) -> Result<Vec<SourceRecord>> {
    let mut rng = rng_for(config.seed, Split::Interactive, index);
    let classes = distinct_classes(&mut rng, config.classes, 2, None);
    let large: Vec<bool> = (0..2).map(|_| !rng.random_bool(config.small_fraction)).collect();
    let boxes = layout(&mut rng, 2, &large, config.filled_halves);
    let objects: Vec<SceneObject> =
        classes.into_iter().zip(boxes).map(|(class, bbox)| SceneObject { class, bbox }).collect();
    let frame = draw_scene(&mut rng, &objects);
    let jpeg = encode_jpeg(&frame, 90);
    let id = scene_id(Split::Interactive, index);
    objects
        .iter()
        .map(|o| {
            let name = format!("{id}_{}", source_slug(o.class));
            write_atomic(&root.join("images").join(format!("{name}.jpg")), &jpeg)?;
            let mask = object_mask(o, frame.width, frame.height);
            write_atomic(&root.join("gt_masks").join(format!("{name}.png")), &encode_png(&mask))?;
            write_wav_i16(
                &root.join("audio_wav").join(format!("{name}.wav")),
                &synth_audio(&mut rng, o.class, Split::Test),
            )?;
            Ok(SourceRecord {
                image: format!("images/{name}.jpg"),
                audio: format!("audio_wav/{name}.wav"),
                gt_box: o.bbox.map(|v| v * 224.0),
            })
        })
        .collect()
}

/// What `generate` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthSummary {
    pub root: PathBuf,
    pub train: usize,
    pub test: usize,
    pub mismatched_negatives: usize,
    pub hidden_source_negatives: usize,
    pub interactive_scenes: usize,
}

#[derive(serde::Serialize)]
struct VggssRecord {
    file: String,
    class: String,
    bbox: Vec<[f64; 4]>,
}

fn write_scene(root: &Path, scene: &Scene) -> Result<()> {
    write_atomic(&root.join("frames").join(format!("{}.jpg", scene.id)), &encode_jpeg(&scene.frame, 90))?;
    write_wav_i16(&root.join("audio").join(format!("{}.wav", scene.id)), &scene.audio)
}

/// Writes the benchmark under `root`: `frames/`, `audio/`, `metadata/vggss.json` (boxes of
/// the sounding object of every train and test scene), `metadata/vggss_test.csv`,
/// `metadata/vggss_test_plus_silent.csv`, `metadata/train.txt` and `synth.json`; with
/// `interactive` scenes also `images/`, `audio_wav/` and `metadata/is3.json`.
///
/// `on_scene` is called once per scene written (from worker threads), for progress display.
pub fn generate(root: &Path, config: &SynthConfig, on_scene: &(dyn Fn() + Sync)) -> Result<SynthSummary> {
    if !(3..=MAX_CLASSES).contains(&config.classes) {
        // A scene whose source is hidden needs two classes besides the sound's.
        let problem = format!("{} sounding classes: a benchmark has 3 to {MAX_CLASSES}", config.classes);
        return Err(crate::error::DataError::invalid(root, problem));
    }
    for sub in ["frames", "audio", "metadata"] {
        create_dir_all(&root.join(sub))?;
    }
    let make_and_write = |split: Split, count: usize| -> Result<Vec<Scene>> {
        (0..count)
            .into_par_iter()
            .map(|i| {
                let mut scene = make_scene(config, split, i);
                write_scene(root, &scene)?;
                on_scene();
                // Keep only what the metadata needs.
                scene.frame = RgbImage::new(0, 0);
                scene.audio.samples = Vec::new();
                Ok(scene)
            })
            .collect()
    };
    let train = make_and_write(Split::Train, config.train)?;
    let test = make_and_write(Split::Test, config.test)?;
    let hidden_count = config.negatives / 2;
    let hidden = make_and_write(Split::Hidden, hidden_count)?;

    let mut records = Vec::new();
    for scene in train.iter().chain(&test) {
        let src = &scene.objects[scene.source.expect("train/test scenes have a visible source")];
        records.push(VggssRecord { file: scene.id.clone(), class: class_name(src.class), bbox: vec![src.bbox] });
    }
    let json = serde_json::to_vec(&records).expect("plain records serialise");
    write_atomic(&root.join("metadata/vggss.json"), &json)?;

    let train_list: String = train.iter().map(|s| format!("{}\n", s.id)).collect();
    write_atomic(&root.join("metadata/train.txt"), train_list.as_bytes())?;
    // The sounding class of every training scene (`avsl train --distinct-classes`).
    let train_classes: String = std::iter::once("id,class\n".to_string())
        .chain(train.iter().map(|s| format!("{},{}\n", s.id, class_name(s.sound_class))))
        .collect();
    write_atomic(&root.join(TRAIN_CLASSES), train_classes.as_bytes())?;
    let test_list: String = test.iter().map(|s| format!("{}\r\n", s.id)).collect();
    write_atomic(&root.join("metadata/vggss_test.csv"), test_list.as_bytes())?;

    // Mismatched negatives: frame of test scene i, audio of a test clip whose class is in
    // none of that frame's objects.
    let mut rng = rng_for(config.seed, Split::Hidden, usize::MAX);
    let mut silent = String::from("video,audio,label\r\n");
    let mut mismatched = 0;
    if !test.is_empty() {
        for k in 0..config.negatives - hidden_count {
            let frame_scene = &test[k % test.len()];
            let candidates: Vec<&Scene> =
                test.iter().filter(|s| frame_scene.objects.iter().all(|o| o.class != s.sound_class)).collect();
            if candidates.is_empty() {
                continue;
            }
            let audio_scene = candidates[rng.random_range(0..candidates.len())];
            silent.push_str(&format!("{},{},non-sounding\r\n", frame_scene.id, audio_scene.id));
            mismatched += 1;
        }
    }
    for scene in &hidden {
        silent.push_str(&format!("{},{},non-sounding\r\n", scene.id, scene.id));
    }
    write_atomic(&root.join("metadata/vggss_test_plus_silent.csv"), silent.as_bytes())?;

    if config.interactive > 0 {
        for folder in ["images", "audio_wav", "gt_masks"] {
            create_dir_all(&root.join(folder))?;
        }
        let scenes: Vec<Vec<SourceRecord>> = (0..config.interactive)
            .into_par_iter()
            .map(|i| {
                let records = write_interactive_scene(root, config, i);
                on_scene();
                records
            })
            .collect::<Result<_>>()?;
        let list: Vec<SourceRecord> = scenes.into_iter().flatten().collect();
        write_atomic(
            &root.join("metadata/is3.json"),
            &serde_json::to_vec_pretty(&list).expect("plain records serialise"),
        )?;
        let masks: Vec<MaskRecord> = list
            .iter()
            .map(|r| MaskRecord {
                image: r.image.clone(),
                audio: r.audio.clone(),
                gt_box: r.image.replace("images/", "gt_masks/").replace(".jpg", ".png"),
                offset: 1,
            })
            .collect();
        write_atomic(
            &root.join("metadata/is3_seg.json"),
            &serde_json::to_vec_pretty(&masks).expect("plain records serialise"),
        )?;
    }

    let summary = SynthSummary {
        root: root.to_path_buf(),
        train: train.len(),
        test: test.len(),
        mismatched_negatives: mismatched,
        hidden_source_negatives: hidden.len(),
        interactive_scenes: config.interactive,
    };
    let meta = serde_json::json!({
        "generator": "avsl synth",
        "config": config,
        "classes": (0..config.classes).map(class_name).collect::<Vec<_>>(),
        "summary": summary,
    });
    write_atomic(&root.join("synth.json"), serde_json::to_string_pretty(&meta).expect("json").as_bytes())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_deterministic_and_off_centre() {
        let a = make_scene(&cfg(7, false), Split::Test, 3);
        let b = make_scene(&cfg(7, false), Split::Test, 3);
        assert_eq!(a.frame, b.frame);
        assert_eq!(a.audio, b.audio);
        assert_ne!(make_scene(&cfg(8, false), Split::Test, 3).frame, a.frame);
        // Objects occupy disjoint strips, so no two boxes overlap.
        for s in 0..50 {
            let scene = make_scene(&cfg(1, false), Split::Train, s);
            for (i, p) in scene.objects.iter().enumerate() {
                for q in &scene.objects[i + 1..] {
                    let ix = p.bbox[2].min(q.bbox[2]) - p.bbox[0].max(q.bbox[0]);
                    let iy = p.bbox[3].min(q.bbox[3]) - p.bbox[1].max(q.bbox[1]);
                    assert!(ix <= 1e-9 || iy <= 1e-9, "overlap in scene {s}");
                }
            }
        }
    }

    fn cfg(seed: u64, silent_distractors: bool) -> SynthConfig {
        SynthConfig { seed, small_fraction: 0.3, silent_distractors, ..SynthConfig::default() }
    }

    #[test]
    fn hidden_scenes_do_not_show_their_sound() {
        for i in 0..30 {
            let s = make_scene(&cfg(2, false), Split::Hidden, i);
            assert!(s.source.is_none());
            assert!(s.objects.iter().all(|o| o.class != s.sound_class));
        }
    }

    #[test]
    fn silent_distractors_only_change_training_scenes() {
        for i in 0..30 {
            let s = make_scene(&cfg(3, true), Split::Train, i);
            let source = s.source.expect("training sources are visible");
            assert!(s.sound_class < NUM_CLASSES);
            assert_eq!(s.objects[source].class, s.sound_class);
            let distractor = &s.objects[1 - source];
            assert!(distractor.class >= MAX_CLASSES && class_name(distractor.class).starts_with("green"));
            let test = make_scene(&cfg(3, true), Split::Test, i);
            assert_eq!(test.objects[0].class, make_scene(&cfg(3, false), Split::Test, i).objects[0].class);
            assert!(test.objects.iter().all(|o| o.class < NUM_CLASSES));
        }
    }

    #[test]
    fn class_counts_outside_three_to_nine_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for classes in [2, 10] {
            let config = SynthConfig { classes, train: 1, test: 1, negatives: 0, ..SynthConfig::default() };
            let error = generate(dir.path(), &config, &|| {}).unwrap_err().to_string();
            assert!(error.contains(&format!("{classes} sounding classes: a benchmark has 3 to 9")), "{error}");
        }
    }

    #[test]
    fn nine_classes_add_yellow_shapes() {
        let nine = SynthConfig { classes: MAX_CLASSES, ..cfg(5, false) };
        let classes: std::collections::BTreeSet<usize> =
            (0..200).flat_map(|i| make_scene(&nine, Split::Train, i).objects).map(|o| o.class).collect();
        assert_eq!(classes, (0..MAX_CLASSES).collect());
        assert_eq!(class_name(7), "yellow disc");
        assert_eq!(
            (class_name(0), class_name(5), class_name(MAX_CLASSES + 2)),
            ("red box".into(), "blue striped box".into(), "green striped box".into())
        );
    }

    #[test]
    fn filled_halves_make_sources_cover_most_of_their_half() {
        let filled = SynthConfig { small_fraction: 0.0, filled_halves: true, ..cfg(4, false) };
        let plain = SynthConfig { small_fraction: 0.0, ..cfg(4, false) };
        let source_area = |config: &SynthConfig, i: usize| {
            let s = make_scene(config, Split::Test, i);
            let [x0, y0, x1, y1] = s.objects[s.source.expect("visible")].bbox;
            (x1 - x0) * (y1 - y0)
        };
        for i in 0..100 {
            // Half the frame × at least 88% across × at least 80% along.
            assert!(source_area(&filled, i) >= 0.5 * 0.88 * 0.8 - 1e-9, "scene {i}");
            assert!(source_area(&filled, i) <= 0.5 + 1e-9, "scene {i}");
        }
        let mean = |config: &SynthConfig| (0..100).map(|i| source_area(config, i)).sum::<f64>() / 100.0;
        // Mean extents 0.93 × 0.89 of a half against 0.87 × 0.77.
        assert!((mean(&filled) - 0.5 * 0.93 * 0.89).abs() < 0.02, "{}", mean(&filled));
        assert!((mean(&plain) - 0.5 * 0.87 * 0.77).abs() < 0.02, "{}", mean(&plain));
    }
}

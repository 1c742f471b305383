//! `avsl bench`: throughput measurements on generated data (never timed tests).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use avsl_data::frame_cache::{CachedResize, FrameCache};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{RgbImage, encode_jpeg};
use avsl_data::loader::{Loader, LoaderConfig, PairFiles};
use avsl_data::transform::INPUT_SIZE;
use avsl_data::wav::{Pcm16, write_wav_i16};
use clap::Args;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

#[derive(Args)]
pub struct BenchArgs {
    /// What to measure: `loader`, `eval-maps`, `forward`, `train`, `localize`,
    /// `neighbours` (default: all but `neighbours`, which takes minutes; `localize` needs
    /// FFmpeg).
    pub what: Vec<String>,
    /// Samples of the `neighbours` benchmark (VGG-Sound 144k by default), 512 features
    /// each, k = 1000.
    #[arg(long, default_value_t = 144_000)]
    pub neighbour_rows: usize,
    /// Threads for the multi-threaded figures (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Samples per measured epoch of the loader.
    #[arg(long, default_value_t = 192)]
    pub samples: usize,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Keep the generated loader data here (reused when present), e.g. to run
    /// tools/loader_bench.py on the same files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where the model runs for `forward` and `train`: `cpu`; `wgpu`, `wgpu:N` (N-th discrete GPU)
    /// or `wgpu:cpu` (a software Vulkan adapter) through Vulkan, Metal or DX12; `cuda[:N]` in a
    /// build with the `cuda` feature (docs/gpu.md).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The trunks' kernels: `host` (our CPU kernels) or `device` (burn's operations on the
    /// device); by default the device's own (host on the CPU).
    #[arg(long)]
    pub kernels: Option<String>,
    /// Batch of the measured SLAVC training step (the published recipe uses 128).
    #[arg(long, default_value_t = 8)]
    pub train_batch: usize,
    /// Batches of the measured eval forward pass.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8])]
    pub eval_batch: Vec<usize>,
}

/// The device and trunk kernels the model benchmarks run on.
struct Target {
    device: burn::tensor::Device,
    kernels: avsl_model::kernels::Kernels,
}

impl Target {
    fn of(args: &BenchArgs) -> Result<Target> {
        use avsl_model::kernels::Kernels;
        let device = avsl_model::device::parse_device(&args.device)?;
        let kernels = match &args.kernels {
            Some(name) => {
                Kernels::parse(name).ok_or_else(|| anyhow::anyhow!("--kernels {name}: expected host or device"))?
            }
            None => Kernels::for_device(&device),
        };
        if kernels == Kernels::Host && Kernels::for_device(&device) != Kernels::Host {
            bail!("--kernels host runs on the CPU only (--device cpu)");
        }
        Ok(Target { device, kernels })
    }

    /// Waits for the device's queued work (GPU timings are meaningless without it).
    fn sync(&self) {
        self.device.sync().expect("the device finishes its work");
    }
}

/// A frame with the statistics of a video still rather than of noise: a sky-to-ground
/// gradient, a few flat-coloured objects and mild sensor noise. At JPEG quality 90 it
/// weighs about as much as a VGG-Sound frame (tens of KB; the decoder's entropy stage
/// scales with the file size, so pure noise frames of 200 KB would overstate it).
fn scene_frame(rng: &mut impl Rng, w: usize, h: usize) -> RgbImage {
    let mut img = RgbImage::new(w, h);
    let sky: [f32; 3] = std::array::from_fn(|_| rng.random_range(60.0..230.0));
    let ground: [f32; 3] = std::array::from_fn(|_| rng.random_range(30.0..160.0));
    let objects: Vec<([f32; 3], [f32; 4])> = (0..rng.random_range(2..6))
        .map(|_| {
            let colour = std::array::from_fn(|_| rng.random_range(0.0..255.0));
            let (cx, cy) = (rng.random_range(0.0..w as f32), rng.random_range(0.0..h as f32));
            (colour, [cx, cy, rng.random_range(20.0..150.0), rng.random_range(20.0..120.0)])
        })
        .collect();
    for y in 0..h {
        let t = y as f32 / h as f32;
        for x in 0..w {
            let mut px: [f32; 3] = std::array::from_fn(|c| sky[c] * (1.0 - t) + ground[c] * t);
            for (colour, [cx, cy, rx, ry]) in &objects {
                if ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2) < 1.0 {
                    px = *colour;
                }
            }
            for (c, v) in px.iter().enumerate() {
                img.data[(y * w + x) * 3 + c] = (v + rng.random_range(-6.0..6.0)).clamp(0.0, 255.0) as u8;
            }
        }
    }
    img
}

/// Writes `n` pairs shaped like VGG-Sound: 640×360 JPEG frames (q90, [`scene_frame`]) and
/// 10 s 16 kHz mono 16-bit clips.
fn make_vggsound_like(dir: &Path, n: usize) -> Result<Vec<PairFiles>> {
    std::fs::create_dir_all(dir.join("frames"))?;
    std::fs::create_dir_all(dir.join("audio"))?;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i as u64);
            let img = scene_frame(&mut rng, 640, 360);
            let frame = dir.join(format!("frames/{i:05}.jpg"));
            write_atomic(&frame, &encode_jpeg(&img, 90))?;
            let f0 = rng.random_range(100.0..900.0);
            let samples = (0..160_000)
                .map(|t| {
                    let s = (t as f64 * f0 * std::f64::consts::TAU / 16_000.0).sin() * 9000.0;
                    (s + rng.random_range(-3000.0..3000.0)) as i16
                })
                .collect();
            let audio = dir.join(format!("audio/{i:05}.wav"));
            write_wav_i16(&audio, &Pcm16 { sample_rate: 16_000, channels: 1, samples })?;
            Ok(PairFiles { frame, audio })
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Samples per second of full epochs (decode + spectrogram + resize + normalise, or with
/// a frame cache: cached pixels + spectrogram + crop + normalise), median of three after
/// one warm-up epoch.
fn loader_rate(pairs: &[PairFiles], threads: usize, augment: bool, cache: Option<&Arc<FrameCache>>) -> Result<f64> {
    let config = LoaderConfig {
        shuffle: augment,
        augment,
        frame_cache: cache.cloned(),
        ..LoaderConfig { batch_size: 16, threads, seed: 1, ..Default::default() }
    };
    let loader = Loader::new(pairs.to_vec(), config)?;
    let mut rates = Vec::new();
    for epoch in 0..4 {
        let start = Instant::now();
        let mut n = 0;
        for batch in loader.epoch(epoch) {
            n += batch?.len();
        }
        if epoch > 0 {
            rates.push(n as f64 / start.elapsed().as_secs_f64());
        }
    }
    Ok(median(rates))
}

/// Pairs per second of `eval-maps`' scoring (upsampling, the three variants, cIoU,
/// confidence, then every metric), on random 7×7 maps held in memory: file reading is
/// left out so the figure is the scoring itself.
fn eval_maps_rate(n: usize, threads: usize) -> Result<f64> {
    use avsl_data::testset::TestSample;
    use avsl_metrics::evaluate::{evaluate, reported_subsets};
    use avsl_metrics::{BoxFormat, MapKind, PixelBox, Prediction};

    use avsl_eval::results::score_all;
    use avsl_metrics::scoring::{Map, Protocol, ScoringConfig};

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let samples: Vec<TestSample> = (0..n)
        .map(|i| {
            let (x, y) = (rng.random_range(0..150), rng.random_range(0..150));
            let boxes =
                if i % 2 == 0 { vec![PixelBox { xmin: x, ymin: y, xmax: x + 70, ymax: y + 70 }] } else { vec![] };
            TestSample {
                name: format!("s{i}"),
                video_id: format!("s{i}"),
                audio_id: format!("s{i}"),
                frame: PathBuf::new(),
                audio: PathBuf::new(),
                boxes,
            }
        })
        .collect();
    let random_maps = |rng: &mut rand_chacha::ChaCha8Rng, scale: f32| -> Vec<Map> {
        (0..n).map(|_| Map { h: 7, w: 7, values: (0..49).map(|_| rng.random_range(-scale..scale)).collect() }).collect()
    };
    let av = random_maps(&mut rng, 30.0);
    let obj = random_maps(&mut rng, 2.5);
    let config = ScoringConfig {
        alpha: 0.9,
        tau: 0.03,
        map_kind: MapKind::Logits,
        prediction: Prediction::Relative { size: 0.5 },
        protocol: Protocol::Slavc,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let start = Instant::now();
    pool.install(|| -> Result<()> {
        let scored = score_all::<anyhow::Error>(
            &samples,
            BoxFormat::Vggss,
            &config,
            &|i| Ok(av[i].clone()),
            Some(&|i: usize| Ok(obj[i].clone())),
            &|| {},
        )?;
        for results in scored.variants.values() {
            evaluate(results, &reported_subsets());
        }
        Ok(())
    })?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The eval forward pass of SLAVC as `avsl eval` runs it (one encoder set: image and audio
/// embeddings, plus the object network), d = 512, formula weights, on a batch of `b`
/// 224×224 images and 3 s 16 kHz spectrograms (257×200): median ms per batch of five
/// runs after one warm-up; also ms per image trunk and per audio trunk at that batch.
fn forward_ms(target: &Target, b: usize) -> Result<(f64, f64, f64)> {
    use avsl_model::formula::formula_weights;
    use avsl_model::ogl::ObjectSaliency;
    use avsl_model::{Architecture, EncoderSet, Encoders, ModelConfig};
    use burn::tensor::{Tensor, TensorData};

    let device = &target.device;
    let config = ModelConfig::published(Architecture::Slavc);
    let shapes = config.expected_shapes();
    let mut weights = formula_weights(shapes.iter().enumerate().map(|(i, (n, s))| (i as u64, n.as_str(), s.clone())));
    let encoders = Encoders::load_with_kernels(&mut weights, config, EncoderSet::Momentum, device, target.kernels)?;
    let ogl_shapes = avsl_model::arch::resnet18_shapes("", 3);
    let mut ogl_weights =
        formula_weights(ogl_shapes.iter().enumerate().map(|(i, (n, s))| (5000 + i as u64, n.as_str(), s.clone())));
    let ogl = ObjectSaliency::load_with_kernels(&mut ogl_weights, device, target.kernels)?;
    let input = |shape: [usize; 4], seed: u64| {
        let values = avsl_model::formula::formula_values(seed, "input", &shape);
        Tensor::<4>::from_data(TensorData::new(values, shape), device)
    };
    let (images, audio) = (input([b, 3, 224, 224], 9001), input([b, 1, 257, 200], 9002));
    let time = |f: &dyn Fn()| {
        f();
        target.sync();
        median(
            (0..5)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    target.sync();
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    let total = time(&|| {
        encoders.embed_images(images.clone());
        encoders.embed_audio(audio.clone());
        ogl.maps(images.clone()).into_data();
    });
    let image = time(&|| {
        encoders.image_trunk(images.clone()).into_data();
    });
    let clip = time(&|| {
        encoders.audio_trunk(audio.clone()).into_data();
    });
    Ok((total, image / b as f64, clip / b as f64))
}

/// One SLAVC training step as `avsl train` runs it (online forward with visual dropout,
/// momentum update, target forward, loss, backward, Adam) on `b` 224×224 images and 3 s
/// 16 kHz spectrograms (257×200), from `avsl train`'s initial weights: median ms of three
/// steps after one warm-up.
fn train_step_ms(target: &Target, config: avsl_train::config::TrainConfig, b: usize) -> f64 {
    use avsl_kernels::Activation;
    use avsl_train::trainable::Batch;
    use burn::tensor::Device;

    let weights = avsl_train::init::initial_weights(&config.model_config(), None, 0);
    let device = Device::autodiff(target.device.clone());
    let mut trainer = avsl_train::trainer::Trainer::with_kernels(&weights, config.clone(), &device, target.kernels);
    let input = |[n, c, h, w]: [usize; 4], seed: u64| {
        let data = avsl_model::formula::formula_values(seed, "input", &[n, c, h, w]);
        Activation { n, c, h, w, data }
    };
    // The input the configuration feeds: its frame side, and the spectrogram of its window
    // at 16 kHz (200 frames for 3 s, 66 for 1 s).
    let side = config.image_size;
    let frames = avsl_data::spectrogram::frame_count((16_000.0 * config.audio_seconds) as usize);
    let mut step = || {
        let batch = Batch { images: input([b, 3, side, side], 9001), spectrograms: input([b, 1, 257, frames], 9002) };
        let start = Instant::now();
        trainer.train_step(batch, None);
        target.sync();
        start.elapsed().as_secs_f64() * 1000.0
    };
    step();
    median((0..3).map(|_| step()).collect())
}

/// `avsl localize --video` end to end (decode, model, overlay, encode) on a generated
/// 30 s 640×360 25 fps H.264/AAC clip with SLAVC at the published sizes (formula weights,
/// av map): seconds for the whole command.
fn localize_video_s(dir: &Path) -> Result<f64> {
    use avsl_data::video::Ffmpeg;
    use avsl_model::formula::formula_weights;
    use avsl_model::{Architecture, ModelConfig};

    let ff = Ffmpeg::locate().map_err(|e| anyhow::anyhow!("bench localize needs FFmpeg: {e}"))?;
    let (seconds, fps, w, h) = (30usize, 25usize, 640usize, 360usize);
    let sound = dir.join("sound.wav");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let samples = (0..seconds * 16_000).map(|_| rng.random_range(-8000i16..8000)).collect();
    write_wav_i16(&sound, &Pcm16 { channels: 1, sample_rate: 16_000, samples })?;
    let video = dir.join("clip.mp4");
    let mut writer = ff.writer(&video, w, h, fps as f64, &sound)?;
    for i in 0..seconds * fps {
        let cx = 40 + (i * (w - 80)) / (seconds * fps);
        let mut frame = RgbImage::new(w, h);
        for (k, px) in frame.data.chunks_exact_mut(3).enumerate() {
            let (x, y) = ((k % w) as i64, (k / w) as i64);
            let inside = (x - cx as i64).pow(2) + (y - 180).pow(2) < 60 * 60;
            px.copy_from_slice(if inside { &[220, 30, 30] } else { &[90, 120, 90] });
        }
        writer.write_frame(&frame)?;
    }
    writer.finish()?;
    let config = ModelConfig::published(Architecture::Slavc);
    let shapes = config.expected_shapes();
    let weights = formula_weights(shapes.iter().enumerate().map(|(i, (n, s))| (i as u64, n.as_str(), s.clone())));
    let checkpoint = dir.join("slavc.safetensors");
    let bytes = avsl_model::checkpoint::safetensors_bytes(&checkpoint, &weights, &config, &Default::default())?;
    avsl_data::fsutil::write_atomic(&checkpoint, &bytes)?;
    let args = crate::localize::LocalizeArgs {
        checkpoint,
        object_weights: None,
        alpha: None,
        calibration: None,
        encoders: None,
        image: None,
        audio: None,
        video: Some(video),
        window: None,
        step: 0.5,
        tau: 0.03,
        relative_prediction: false,
        pred_thr: None,
        out: dir.join("localized"),
        force: false,
        threads: None,
        device: "cpu".into(),
    };
    let start = Instant::now();
    crate::localize::run(args)?;
    Ok(start.elapsed().as_secs_f64())
}

pub fn run(args: BenchArgs) -> Result<()> {
    let threads = crate::device::thread_count(args.threads);
    let what: Vec<String> = if args.what.is_empty() {
        let mut all: Vec<String> = ["loader", "eval-maps", "forward", "train"].map(String::from).to_vec();
        if avsl_data::video::Ffmpeg::locate().is_ok() {
            all.push("localize".into());
        }
        all
    } else {
        args.what.clone()
    };
    let target = Target::of(&args)?;
    let kernels = format!("{:?}", target.kernels).to_lowercase();
    let mut report = serde_json::json!({ "threads": threads, "device": args.device, "kernels": kernels });
    for item in &what {
        match item.as_str() {
            "neighbours" => {
                let (n, d, k) = (args.neighbour_rows, 512, 1000.min(args.neighbour_rows.saturating_sub(1)));
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
                let features: Vec<f32> = (0..n * d).map(|_| rng.random_range(0.0..1.0f32)).collect();
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
                let bar = crate::progress::bar(n, "top-k");
                let start = Instant::now();
                pool.install(|| avsl_train::neighbours::top_k_cosine(&features, n, d, k, &|rows| bar.inc(rows as u64)));
                let seconds = start.elapsed().as_secs_f64();
                bar.finish_and_clear();
                println!("neighbours: top-{k} cosine over {n} x {d} features in {seconds:.1} s on {threads} threads");
                report["neighbours_rows"] = n.into();
                report["neighbours_seconds"] = seconds.into();
            }
            "loader" => {
                let temp = tempfile::tempdir()?;
                let data: PathBuf = args.data_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
                let pairs = if data.join("frames").join(format!("{:05}.jpg", args.samples - 1)).exists() {
                    (0..args.samples)
                        .map(|i| PairFiles {
                            frame: data.join(format!("frames/{i:05}.jpg")),
                            audio: data.join(format!("audio/{i:05}.wav")),
                        })
                        .collect()
                } else {
                    eprintln!("generating {} VGG-Sound-like pairs (640x360 JPEG, 10 s 16 kHz WAV)...", args.samples);
                    make_vggsound_like(&data, args.samples)?
                };
                let frames: Vec<PathBuf> = pairs.iter().map(|p| p.frame.clone()).collect();
                let jpeg_kb = frames.iter().map(|f| f.metadata().map_or(0, |m| m.len())).sum::<u64>() as f64
                    / 1024.0
                    / frames.len().max(1) as f64;
                let one = loader_rate(&pairs, 1, false, None)?;
                let many = loader_rate(&pairs, threads, false, None)?;
                let train = loader_rate(&pairs, threads, true, None)?;
                println!("loader, frames: 640x360 JPEG, {jpeg_kb:.0} KB on average");
                println!("loader, test transform:  {one:8.1} samples/s on 1 thread ({:.2} ms/sample)", 1000.0 / one);
                println!("loader, test transform:  {many:8.1} samples/s on {threads} threads");
                println!("loader, train transform: {train:8.1} samples/s on {threads} threads");
                let cache_dir = tempfile::tempdir()?;
                let cache = |resize: CachedResize| {
                    FrameCache::build(&cache_dir.path().join(resize.name()), &frames, resize, INPUT_SIZE, &|| {})
                        .map(Arc::new)
                };
                let (test_cache, train_cache) = (cache(CachedResize::Test)?, cache(CachedResize::Train)?);
                let cached_one = loader_rate(&pairs, 1, false, Some(&test_cache))?;
                let cached_many = loader_rate(&pairs, threads, false, Some(&test_cache))?;
                let cached_train_one = loader_rate(&pairs, 1, true, Some(&train_cache))?;
                let cached_train = loader_rate(&pairs, threads, true, Some(&train_cache))?;
                println!("loader, frame cache, test transform:  {cached_one:8.1} samples/s on 1 thread");
                println!("loader, frame cache, test transform:  {cached_many:8.1} samples/s on {threads} threads");
                println!("loader, frame cache, train transform: {cached_train_one:8.1} samples/s on 1 thread");
                println!("loader, frame cache, train transform: {cached_train:8.1} samples/s on {threads} threads");
                report["loader_samples_per_s_1thread"] = one.into();
                report["loader_samples_per_s"] = many.into();
                report["loader_train_samples_per_s"] = train.into();
                report["loader_cached_samples_per_s_1thread"] = cached_one.into();
                report["loader_cached_samples_per_s"] = cached_many.into();
                report["loader_cached_train_samples_per_s_1thread"] = cached_train_one.into();
                report["loader_cached_train_samples_per_s"] = cached_train.into();
                report["loader_jpeg_kb"] = jpeg_kb.into();
            }
            "eval-maps" => {
                let rate = eval_maps_rate(args.samples.max(1000), threads)?;
                println!(
                    "eval-maps scoring:       {rate:8.1} pairs/s on {threads} threads (3 variants, relative prediction)"
                );
                report["eval_maps_pairs_per_s"] = rate.into();
            }
            "forward" => {
                crate::device::model_threads(args.threads);
                for &b in &args.eval_batch {
                    let (total, image, clip) = forward_ms(&target, b)?;
                    println!(
                        "eval forward, batch {b}:   {total:8.1} ms (image trunk {image:.1} ms/image, audio trunk {clip:.1} ms/clip)"
                    );
                    report[format!("eval_forward_ms_b{b}")] = total.into();
                    report[format!("image_trunk_ms_per_image_b{b}")] = image.into();
                    report[format!("audio_trunk_ms_per_clip_b{b}")] = clip.into();
                }
            }
            "train" => {
                crate::device::model_threads(args.threads);
                let b = args.train_batch;
                let published = avsl_train::config::TrainConfig { batch_size: b, ..Default::default() };
                let ms = train_step_ms(&target, published, b);
                let rate = b as f64 * 1000.0 / ms;
                println!("SLAVC train step, batch {b} (d 512, ResNet-18):  {ms:8.1} ms ({rate:.1} samples/s)");
                report[format!("train_step_ms_b{b}")] = ms.into();
                report[format!("train_samples_per_s_b{b}")] = rate.into();
                let demo = crate::demo_plan::Plan::new(false, 0).slavc;
                let ms = train_step_ms(&target, demo.clone(), demo.batch_size);
                let pool = if demo.image_stem_pool { "" } else { " without stem pool" };
                println!(
                    "SLAVC train step, demo (width 16, d 64, batch {}, {}²{pool}, {} s): {ms:8.1} ms",
                    demo.batch_size, demo.image_size, demo.audio_seconds
                );
                report["train_step_ms_demo"] = ms.into();
            }
            "localize" => {
                crate::device::model_threads(args.threads);
                let temp = tempfile::tempdir()?;
                let s = localize_video_s(temp.path())?;
                println!("localize --video, 30 s 640x360 25 fps clip (d 512, ResNet-18): {s:8.1} s");
                report["localize_video_s_30s"] = s.into();
            }
            other => bail!("unknown benchmark {other:?} (available: loader, eval-maps, forward, train, localize)"),
        }
    }
    if let Some(mb) = avsl_train::memory::peak_rss_mb() {
        report["peak_rss_mb"] = mb.into();
    }
    if args.json {
        println!("{report}");
    }
    Ok(())
}

//! A parallel prefetching loader: a producer thread assembles batches in a deterministic
//! order, decoding the samples of each batch on a pool of worker threads, and hands them
//! over through a bounded queue so loading overlaps with the consumer's compute.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::class_batches;
use crate::error::{BadFile, DataError, Result};
use crate::frame_cache::{CachedResize, FrameCache};
use crate::image_io::RgbImage;
use crate::preprocess::{load_shifted_spectrograms, load_spectrogram, resized_frame};
use crate::simclr::simclr_augment;
use crate::spectrogram::Spectrogram;
use crate::transform::{Crop, InputShape, random_crop_flip, to_normalized_chw};

/// A frame/audio pair to load.
#[derive(Debug, Clone, PartialEq)]
pub struct PairFiles {
    pub frame: PathBuf,
    pub audio: PathBuf,
}

#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Decoding threads.
    pub threads: usize,
    /// Batches decoded ahead of the consumer.
    pub prefetch: usize,
    pub seed: u64,
    /// Shuffle the order every epoch (training).
    pub shuffle: bool,
    /// Training augmentation of the frames instead of the test resize.
    pub augment: bool,
    pub drop_last: bool,
    /// Leave a sample whose frame or audio cannot be read out of its batch (reported in
    /// [`Batch::skipped`]) instead of failing the epoch.
    pub skip_bad: bool,
    /// Frames already decoded and resized for this pipeline (its kind must match
    /// `augment`, and it must hold every frame of the list).
    pub frame_cache: Option<Arc<FrameCache>>,
    /// SSL-align's three views per sample instead of one (training only).
    pub align_views: Option<AlignViews>,
    /// The networks' input size and audio window.
    pub input: InputShape,
    /// Each sample's class: batches then hold distinct classes
    /// ([`crate::class_batches::distinct_class_batches`]; training only).
    pub classes: Option<Arc<Vec<u32>>>,
}

/// For every sample of the list, the positions of its `k` nearest neighbours in the same
/// list, by image and by audio features, row-major `[n, k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourTable {
    pub k: usize,
    pub image: Vec<u32>,
    pub audio: Vec<u32>,
}

/// How SSL-align's views are made ("Aligning Sight and Sound", §3): view 0 is the sample
/// (the training crop and flip, the centred audio window), view 1 its augmentation
/// (SimCLR's image augmentation of the same frame, the audio window moved by up to
/// ±`audio_shift` seconds), view 2 its neighbours (the frame of one of its k image
/// neighbours and the audio of one of its k audio neighbours, drawn at random, processed
/// as view 0).
#[derive(Debug, Clone)]
pub struct AlignViews {
    pub neighbours: Arc<NeighbourTable>,
    pub audio_shift: f64,
}

/// Keeps the random streams of the views apart from the training crop's.
const VIEW_STREAM: u64 = 0x5EED_A11C;

impl LoaderConfig {
    /// The resize of this pipeline (the random crop of training is taken after it).
    fn resize(&self) -> CachedResize {
        if self.augment { CachedResize::Train } else { CachedResize::Test }
    }
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 32,
            threads: 2,
            prefetch: 2,
            seed: 0,
            shuffle: false,
            augment: false,
            drop_last: false,
            skip_bad: false,
            frame_cache: None,
            align_views: None,
            input: InputShape::PUBLISHED,
            classes: None,
        }
    }
}

/// A batch: normalised images `[B, 3, 224, 224]` and one spectrogram per sample (their
/// widths differ when sample rates do, so they are stacked by the model, not here). With
/// [`AlignViews`], `[3B, …]` of each: all samples' view 0, then view 1, then view 2.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Positions of the samples in the loader's list.
    pub indices: Vec<usize>,
    /// Views per sample: 1, or 3 with [`AlignViews`].
    pub views: usize,
    pub images: Vec<f32>,
    /// The training crop of each image (`None` without augmentation).
    pub crops: Vec<Option<Crop>>,
    pub spectrograms: Vec<Spectrogram>,
    /// Samples left out of this batch (with `skip_bad`): position in the list, and why.
    pub skipped: Vec<(usize, BadFile)>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

pub struct Loader {
    samples: Arc<Vec<PairFiles>>,
    config: LoaderConfig,
    pool: Arc<rayon::ThreadPool>,
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 of a combined key: independent streams per (seed, epoch, sample).
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Loader {
    pub fn new(samples: Vec<PairFiles>, config: LoaderConfig) -> Result<Loader> {
        if let Some(views) = &config.align_views {
            check_neighbours(&views.neighbours, samples.len())?;
        }
        if let Some(classes) = &config.classes {
            let here = Path::new("<loader>");
            if classes.len() != samples.len() {
                let problem = format!("{} classes for {} samples", classes.len(), samples.len());
                return Err(DataError::invalid(here, problem));
            }
            let count = class_batches::class_count(classes);
            if count < config.batch_size {
                let problem = format!("batches of {} distinct classes from {count} classes", config.batch_size);
                return Err(DataError::invalid(here, problem));
            }
        }
        if let Some(cache) = &config.frame_cache {
            let wanted = config.resize();
            if cache.resize() != wanted {
                return Err(DataError::invalid(
                    cache.dir(),
                    format!("a {} frame cache cannot feed the {} pipeline", cache.resize().name(), wanted.name()),
                ));
            }
            if cache.size() != config.input.image_size {
                return Err(DataError::invalid(
                    cache.dir(),
                    format!(
                        "the frame cache holds frames for {0}×{0} inputs, not {1}×{1}; rebuild it",
                        cache.size(),
                        config.input.image_size
                    ),
                ));
            }
            let missing = cache.missing(samples.iter().map(|s| &s.frame));
            if let Some(first) = missing.first() {
                return Err(DataError::invalid(
                    cache.dir(),
                    format!(
                        "the frame cache lacks {} of the {} frames of this list (first: {}); rebuild it",
                        missing.len(),
                        samples.len(),
                        first.display()
                    ),
                ));
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads.max(1))
            .thread_name(|i| format!("avsl-loader-{i}"))
            .build()
            .map_err(|e| {
                DataError::invalid(std::path::Path::new("<loader>"), format!("cannot start loader threads: {e}"))
            })?;
        Ok(Loader { samples: Arc::new(samples), config, pool: Arc::new(pool) })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Batches in every epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.batches(0).len()
    }

    /// Draws SSL-align's neighbour views from `neighbours` from now on (mined again).
    pub fn set_neighbours(&mut self, neighbours: Arc<NeighbourTable>) -> Result<()> {
        check_neighbours(&neighbours, self.samples.len())?;
        match &mut self.config.align_views {
            Some(views) => views.neighbours = neighbours,
            None => panic!("set_neighbours on a loader without SSL-align views"),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The sample order of an epoch: the identity, or a permutation fixed by (seed, epoch).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(self.config.seed, epoch)));
        }
        order
    }

    /// The sample indices of each batch of an epoch.
    fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let order = self.order(epoch);
        let bs = self.config.batch_size.max(1);
        if let Some(classes) = &self.config.classes {
            return class_batches::distinct_class_batches(&order, classes, bs);
        }
        let mut chunks: Vec<Vec<usize>> = order.chunks(bs).map(<[usize]>::to_vec).collect();
        if self.config.drop_last && chunks.last().is_some_and(|c| c.len() < bs) {
            chunks.pop();
        }
        chunks
    }

    /// Batches of one epoch, produced in the background. Dropping the iterator stops the
    /// producer after the batch it is working on.
    pub fn epoch(&self, epoch: u64) -> BatchIter {
        let chunks = self.batches(epoch);
        let (tx, rx) = crossbeam_channel::bounded(self.config.prefetch.max(1));
        let samples = Arc::clone(&self.samples);
        let pool = Arc::clone(&self.pool);
        let config = self.config.clone();
        let handle = std::thread::spawn(move || {
            for indices in chunks {
                let batch = pool.install(|| load_batch(&samples, indices, &config, epoch));
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        BatchIter { rx, _producer: handle }
    }
}

fn check_neighbours(table: &NeighbourTable, samples: usize) -> Result<()> {
    let fits = table.k > 0
        && table.image.len() == samples * table.k
        && table.audio.len() == samples * table.k
        && table.image.iter().chain(&table.audio).all(|&j| (j as usize) < samples);
    if fits {
        Ok(())
    } else {
        Err(DataError::invalid(
            std::path::Path::new("<neighbours>"),
            format!("the neighbour table does not fit a list of {samples} samples (k = {})", table.k),
        ))
    }
}

/// One sample's views: images (normalised CHW) and spectrograms, and view 0's crop.
struct Loaded {
    images: Vec<Vec<f32>>,
    crop: Option<Crop>,
    spectrograms: Vec<Spectrogram>,
}

fn sample_rng(config: &LoaderConfig, epoch: u64, i: usize, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(mix(config.seed ^ stream, epoch), i as u64 + 1))
}

/// Sample `i`'s frame as this pipeline resizes it (from the frame cache when given).
fn resized_sample(samples: &[PairFiles], i: usize, config: &LoaderConfig) -> Result<RgbImage> {
    resized_frame(&samples[i].frame, config.resize(), config.input.image_size, config.frame_cache.as_deref())
}

/// Sample `i`'s resized frame through the rest of the pipeline: as it is for the test
/// pipeline, the training crop and flip otherwise.
fn view(resized: &RgbImage, i: usize, config: &LoaderConfig, epoch: u64) -> (Vec<f32>, Option<Crop>) {
    if !config.augment {
        return (to_normalized_chw(resized), None);
    }
    let (image, crop) = random_crop_flip(resized, config.input.image_size, &mut sample_rng(config, epoch, i, 0));
    (to_normalized_chw(&image), Some(crop))
}

fn load_sample(samples: &[PairFiles], i: usize, config: &LoaderConfig, epoch: u64) -> Result<Loaded> {
    // Decoded once: view 0 and SSL-align's augmented view share it.
    let resized = resized_sample(samples, i, config)?;
    let (image, crop) = view(&resized, i, config, epoch);
    let Some(views) = &config.align_views else {
        let spectrogram = load_spectrogram(&samples[i].audio, config.input.audio_seconds)?;
        return Ok(Loaded { images: vec![image], crop, spectrograms: vec![spectrogram] });
    };
    let mut rng = sample_rng(config, epoch, i, VIEW_STREAM);
    let augmented = to_normalized_chw(&simclr_augment(&resized, config.input.image_size, &mut rng));
    let shift = if views.audio_shift > 0.0 { rng.random_range(-views.audio_shift..=views.audio_shift) } else { 0.0 };
    // The clip read once for the centred and the shifted window.
    let seconds = config.input.audio_seconds;
    let [spectrogram, shifted]: [Spectrogram; 2] =
        load_shifted_spectrograms(&samples[i].audio, seconds, &[0.0, shift])?.try_into().expect("one per shift");
    let table = &views.neighbours;
    let image_neighbour = table.image[i * table.k + rng.random_range(0..table.k)] as usize;
    let audio_neighbour = table.audio[i * table.k + rng.random_range(0..table.k)] as usize;
    let (neighbour_image, _) = view(&resized_sample(samples, image_neighbour, config)?, image_neighbour, config, epoch);
    let neighbour_audio = load_spectrogram(&samples[audio_neighbour].audio, seconds)?;
    Ok(Loaded {
        images: vec![image, augmented, neighbour_image],
        crop,
        spectrograms: vec![spectrogram, shifted, neighbour_audio],
    })
}

fn load_batch(samples: &[PairFiles], all: Vec<usize>, config: &LoaderConfig, epoch: u64) -> Result<Batch> {
    let attempts: Vec<Result<Loaded>> = all.par_iter().map(|&i| load_sample(samples, i, config, epoch)).collect();
    let mut indices = Vec::with_capacity(all.len());
    let mut loaded = Vec::with_capacity(all.len());
    let mut skipped = Vec::new();
    for (i, attempt) in all.into_iter().zip(attempts) {
        match attempt {
            Ok(l) => {
                indices.push(i);
                loaded.push(l);
            }
            Err(e) if config.skip_bad => skipped.push((i, BadFile::from(e))),
            // The first failing sample of the batch in list order, whichever thread met it.
            Err(e) => return Err(e),
        }
    }
    let views = if config.align_views.is_some() { 3 } else { 1 };
    let side = config.input.image_size;
    let mut images = Vec::with_capacity(views * indices.len() * 3 * side * side);
    let mut spectrograms = Vec::with_capacity(views * indices.len());
    for view in 0..views {
        for l in &loaded {
            images.extend_from_slice(&l.images[view]);
            spectrograms.push(l.spectrograms[view].clone());
        }
    }
    let crops = loaded.iter().map(|l| l.crop).collect();
    Ok(Batch { indices, views, images, crops, spectrograms, skipped })
}

pub struct BatchIter {
    rx: crossbeam_channel::Receiver<Result<Batch>>,
    _producer: std::thread::JoinHandle<()>,
}

impl Iterator for BatchIter {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

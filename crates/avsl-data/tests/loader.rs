//! The loader with and without a frame cache: the same batches, bit for bit.

use std::path::Path;
use std::sync::Arc;

use avsl_data::frame_cache::{CachedResize, FrameCache};
use avsl_data::image_io::{RgbImage, encode_jpeg};
use avsl_data::loader::{Batch, Loader, LoaderConfig, PairFiles};
use avsl_data::transform::INPUT_SIZE;
use avsl_data::wav::{Pcm16, write_wav_i16};

fn pairs(dir: &Path, sizes: &[(usize, usize)]) -> Vec<PairFiles> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| {
            let mut img = RgbImage::new(w, h);
            img.data.iter_mut().enumerate().for_each(|(k, v)| *v = ((k * 7 + i * 13) % 251) as u8);
            let frame = dir.join(format!("{i}.jpg"));
            std::fs::write(&frame, encode_jpeg(&img, 90)).unwrap();
            let samples = (0..16_000 * 4).map(|t| ((t * (i + 3)) % 2000) as i16 - 1000).collect();
            let audio = dir.join(format!("{i}.wav"));
            write_wav_i16(&audio, &Pcm16 { sample_rate: 16_000, channels: 1, samples }).unwrap();
            PairFiles { frame, audio }
        })
        .collect()
}

fn epoch(pairs: &[PairFiles], augment: bool, cache: Option<Arc<FrameCache>>) -> Vec<Batch> {
    let config = LoaderConfig {
        batch_size: 2,
        threads: 2,
        seed: 5,
        shuffle: augment,
        augment,
        frame_cache: cache,
        ..Default::default()
    };
    Loader::new(pairs.to_vec(), config).unwrap().epoch(3).map(Result::unwrap).collect()
}

fn assert_same(a: &[Batch], b: &[Batch]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.indices, y.indices);
        assert_eq!(x.crops, y.crops);
        assert_eq!(x.spectrograms, y.spectrograms);
        assert!(x.images.iter().zip(&y.images).all(|(p, q)| p.to_bits() == q.to_bits()));
        assert_eq!(x.images.len(), y.images.len());
    }
}

#[test]
fn cached_epochs_equal_uncached_ones_for_both_pipelines() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = pairs(tmp.path(), &[(320, 180), (180, 320), (300, 300), (640, 360), (250, 246)]);
    let frames: Vec<_> = pairs.iter().map(|p| p.frame.clone()).collect();
    for (augment, resize) in [(true, CachedResize::Train), (false, CachedResize::Test)] {
        let cache = FrameCache::build(&tmp.path().join(resize.name()), &frames, resize, INPUT_SIZE, &|| {}).unwrap();
        let cached = epoch(&pairs, augment, Some(Arc::new(cache)));
        let plain = epoch(&pairs, augment, None);
        assert!(!augment || plain[0].crops[0].is_some());
        assert_same(&cached, &plain);
    }
}

#[test]
fn a_cache_of_the_other_pipeline_or_lacking_frames_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = pairs(tmp.path(), &[(320, 180), (300, 300), (64, 64)]);
    let dir = tmp.path().join("cache");
    let cache =
        Arc::new(FrameCache::build(&dir, &[pairs[0].frame.clone()], CachedResize::Train, INPUT_SIZE, &|| {}).unwrap());
    let config = |augment| LoaderConfig { augment, frame_cache: Some(Arc::clone(&cache)), ..Default::default() };
    let err = Loader::new(pairs.clone(), config(false)).err().unwrap().to_string();
    assert!(err.contains("a train frame cache cannot feed the test pipeline"), "{err}");
    let err = Loader::new(pairs.clone(), config(true)).err().unwrap().to_string();
    assert!(err.contains("lacks 2 of the 3 frames") && err.contains("1.jpg"), "{err}");
    assert!(Loader::new(pairs[..1].to_vec(), config(true)).is_ok());
}

#[test]
fn class_batches_hold_distinct_classes_and_too_few_classes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = pairs(tmp.path(), &[(64, 64); 7]);
    // Classes 0, 1, 2, 0, 1, 0, 0: batches of two take the two fullest classes each time.
    let classes = Arc::new(vec![0, 1, 2, 0, 1, 0, 0]);
    let config = |batch_size| LoaderConfig {
        batch_size,
        seed: 9,
        shuffle: true,
        augment: true,
        classes: Some(Arc::clone(&classes)),
        ..Default::default()
    };
    let loader = Loader::new(pairs.clone(), config(2)).unwrap();
    // Counts 4, 2, 1 → (0,1) (0,1) (0,2): three batches whatever the shuffle.
    assert_eq!(loader.batches_per_epoch(), 3);
    for e in 0..4 {
        let batches: Vec<Batch> = loader.epoch(e).map(Result::unwrap).collect();
        assert_eq!(batches.len(), 3);
        for b in &batches {
            assert_ne!(classes[b.indices[0]], classes[b.indices[1]], "epoch {e}: {:?}", b.indices);
            assert_eq!(b.images.len(), 2 * 3 * INPUT_SIZE * INPUT_SIZE);
        }
    }
    let refused = Loader::new(pairs.clone(), config(4)).err().expect("four distinct classes from three").to_string();
    assert!(refused.contains("batches of 4 distinct classes from 3 classes"), "{refused}");
    let short = LoaderConfig { classes: Some(Arc::new(vec![0, 1])), ..config(2) };
    let refused = Loader::new(pairs, short).err().expect("a class per sample").to_string();
    assert!(refused.contains("2 classes for 7 samples"), "{refused}");
}

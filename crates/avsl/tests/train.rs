//! `avsl train` on a generated dataset: a run stopped after one epoch (or killed mid-epoch,
//! or killed while writing a checkpoint) and resumed writes the same step losses and the
//! same final checkpoint as one uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn avsl(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().unwrap();
    assert!(out.status.success(), "avsl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs avsl expecting it to fail; its stderr.
fn avsl_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().unwrap();
    assert!(!out.status.success(), "avsl {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// The `previous-<UTC time>` folders inside `dir`.
fn moved_aside(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("previous-"))
        .collect();
    found.sort();
    found
}

fn losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

#[test]
fn resumed_training_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "8", "--test", "4", "--negatives", "2", "--seed", "9"]);
    let common = [
        "train",
        "--data",
        &p("data"),
        "--batch-size",
        "4",
        "--dim",
        "16",
        "--seed",
        "3",
        "--threads",
        "2",
        "--val-testset",
        "vggss_plus_silent",
    ];
    let run = |out: &str, extra: &[&str]| {
        let mut args: Vec<&str> = common.to_vec();
        args.extend(["--output", out]);
        args.extend_from_slice(extra);
        avsl(&args)
    };
    let (straight, split) = (p("straight"), p("split"));
    // A fresh run in the folder of an earlier one is refused; with --force it starts over
    // (one epoch's log, not an appended one) and the earlier run is moved aside whole.
    run(&straight, &["--epochs", "1"]);
    let mut again: Vec<&str> = common.to_vec();
    again.extend(["--output", &straight, "--epochs", "2"]);
    let refused = avsl_fails(&again);
    assert!(refused.contains("holds a run (2 steps logged, latest.safetensors saved 20"), "{refused}");
    assert!(refused.contains("--resume continues it; --force starts a new one"), "{refused}");
    assert!(moved_aside(Path::new(&straight)).is_empty());
    let console = run(&straight, &["--epochs", "2", "--force"]);
    assert!(console.contains("run folder:"), "{console}");
    let aside = moved_aside(Path::new(&straight));
    assert_eq!(aside.len(), 1);
    assert_eq!(losses(&aside[0]).len(), 2, "the earlier run's log, moved");
    assert!(aside[0].join("latest.safetensors").is_file() && aside[0].join("best.safetensors").is_file());
    // The split run reads its frames from a frame cache: built by the first leg, reused by
    // the second, and the same pixels as decoding every epoch.
    let cache = p("frame_cache");
    let console = run(&split, &["--epochs", "1", "--frame-cache", &cache]);
    assert!(console.contains("building the frame cache") && console.contains("(new)"), "{console}");
    let console = run(&split, &["--resume", "--epochs", "2", "--frame-cache", &cache]);
    assert!(console.contains("resuming") && console.contains("step 2"), "{console}");
    assert!(console.contains(&format!("frame cache {cache}: 8 frames")), "{console}");
    let (a, b) = (losses(Path::new(&straight)), losses(Path::new(&split)));
    assert_eq!(a.len(), 4);
    assert_eq!(a, b, "step losses of the resumed run");
    let read = |run: &str| avsl_model::checkpoint::read_checkpoint(&Path::new(run).join("latest.safetensors")).unwrap();
    let (x, y) = (read(&straight), read(&split));
    assert_eq!(x.metadata, y.metadata);
    assert_eq!(x.weights.len(), y.weights.len());
    for (name, t) in x.weights.iter().chain(x.training.iter()) {
        let other = y.weights.get(name).or_else(|| y.training.get(name));
        assert_eq!(other, Some(t), "{name} differs between the runs");
    }
    // Each epoch validated with the exact evaluator, identically in both runs; the best
    // epoch kept.
    let epochs = |run: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(Path::new(run).join("train_log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v.get("epoch_end").is_some())
            .map(|mut v| {
                // Memory is measured, not computed: it differs between processes.
                let o = v.as_object_mut().unwrap();
                assert!(o.remove("rss_mb").is_some_and(|m| m.as_f64().unwrap() > 0.0));
                o.remove("peak_rss_mb");
                v
            })
            .collect()
    };
    let (e1, e2) = (epochs(&straight), epochs(&split));
    assert_eq!(e1, e2);
    assert_eq!(e1.len(), 2);
    let val = &e1[1]["validation"];
    assert_eq!(val["criterion"], "AP@50", "an extended set picks by AP");
    assert_eq!(val["metrics"]["all"]["n"], 6);
    // The checkpoint carries the decision threshold measured on its own weights for
    // `avsl localize`: max-F1 over the extended validation set, momentum encoders.
    let calibration: serde_json::Value = serde_json::from_str(&x.metadata["calibration"]).unwrap();
    assert_eq!(calibration["source"], "validation after epoch 2");
    assert_eq!(calibration["encoders"], "momentum");
    assert_eq!(calibration["n"], 6);
    let f1 = calibration["variants"]["av"]["f1"].as_f64().unwrap();
    let best = val["metrics"]["all"]["maxF1_exact@50"].as_f64().unwrap();
    assert!((f1 - best).abs() < 1e-12, "calibrated F1 {f1} is the epoch's exact max-F1 {best}");
    assert!(val["metrics"]["visible"]["LocAcc@50"].as_f64().is_some());
    for file in ["best.safetensors", "loss.png", "validation.png"] {
        assert!(Path::new(&straight).join(file).is_file(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&straight).join("config.json")).unwrap()).unwrap();
    assert_eq!(
        (config["dim"].as_u64(), config["batch_size"].as_u64(), config["lr"].as_f64()),
        (Some(16), Some(4), Some(1e-4))
    );
    // A frame changed after caching is an error naming it, not a stale image.
    let train_list = std::fs::read_to_string(dir.path().join("data/metadata/train.txt")).unwrap();
    let frame = dir.path().join(format!("data/frames/{}.jpg", train_list.lines().next().unwrap().trim()));
    let bytes = std::fs::read(&frame).unwrap();
    std::fs::write(&frame, [&bytes[..], b"\0"].concat()).unwrap();
    let stale = p("stale");
    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--output", &stale, "--epochs", "1", "--frame-cache", &cache]);
    let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(frame.file_name().unwrap().to_str().unwrap()), "{err}");
    assert!(err.contains("changed since the frame cache was built"), "{err}");
    assert!(err.contains("--force rebuilds it after moving this one"), "{err}");
    // --force moves the stale cache aside and builds a new one from the frames as they are.
    args.push("--force");
    let console = avsl(&args);
    assert!(console.contains("building the frame cache"), "{console}");
    let aside = moved_aside(Path::new(&cache));
    assert_eq!(aside.len(), 1);
    assert!(aside[0].join("index.json").is_file() && aside[0].join("frames.bin").is_file());
}

#[test]
fn a_second_process_on_a_run_folder_is_refused_and_a_dead_holders_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "12", "--test", "2", "--negatives", "1", "--seed", "6"]);
    let run = p("run");
    let args = |extra: &[&str]| -> Vec<String> {
        ["train", "--data", &p("data"), "--batch-size", "4", "--dim", "16", "--seed", "1"]
            .iter()
            .chain(["--checkpoint-every", "1", "--output", &run].iter())
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let first = args(&["--epochs", "50"]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let latest = Path::new(&run).join("latest.safetensors");
    let mut holder = running_until(&first, |_| latest.is_file());
    // Whatever the second asks (to resume, to start over with --force), it ends at once.
    let expected = format!("{run} is in use by process {} since 20", holder.id());
    for extra in [&["--resume"][..], &["--force", "--epochs", "1"][..]] {
        let second = args(extra);
        let refused = avsl_fails(&second.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(refused.contains(&expected), "{refused}");
    }
    assert!(moved_aside(Path::new(&run)).is_empty(), "--force did not touch a run in progress");
    // SIGKILL: the OS releases the lock, the record stays; the next process takes it over.
    let dead = holder.id();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let resume = args(&["--resume", "--epochs", "1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(&resume).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("locked by process {dead} since 20")), "{err}");
    assert!(err.contains("which ended without releasing it; taking it over"), "{err}");
}

/// Starts avsl and returns it once `when(pid)` holds (polled every millisecond); the run
/// must still be going then.
fn running_until(args: &[&str], when: impl Fn(u32) -> bool) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_avsl"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !when(child.id()) {
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(child.try_wait().unwrap().is_none(), "the run ended before the moment came");
        assert!(start.elapsed().as_secs() < 600, "the moment never came");
    }
    child
}

/// Runs avsl and kills it with SIGKILL as soon as `when(pid)` holds.
fn kill_when(args: &[&str], when: impl Fn(u32) -> bool) {
    let mut child = running_until(args, when);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

fn logged_steps(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().filter(|l| l.contains("\"loss\"")).count())
}

/// The temporary file of a checkpoint that process `pid` is writing, if any.
fn checkpoint_in_progress(run: &Path, pid: u32) -> Option<PathBuf> {
    let name = format!(".latest.safetensors.tmp-{pid}");
    let path = run.join(name);
    path.exists().then_some(path)
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "12", "--test", "2", "--negatives", "1", "--seed", "4"]);
    let args = |out: &str| -> Vec<String> {
        ["train", "--data", &p("data"), "--batch-size", "4", "--dim", "16", "--seed", "8", "--epochs", "2"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--checkpoint-every", "1", "--output", out].iter().map(|s| s.to_string()))
            .collect()
    };
    let (straight, killed) = (p("straight"), p("killed"));
    let straight_args = args(&straight);
    avsl(&straight_args.iter().map(String::as_str).collect::<Vec<_>>());
    // 3 steps per epoch. First killed mid-epoch, after the fourth step; then, resumed,
    // killed while it writes a checkpoint. Whatever survives must be a whole checkpoint.
    let killed_args = args(&killed);
    let run = Path::new(&killed);
    let log = run.join("train_log.jsonl");
    kill_when(&killed_args.iter().map(String::as_str).collect::<Vec<_>>(), |_| logged_steps(&log) >= 4);
    let step = |c: &avsl_model::checkpoint::Checkpoint| c.metadata["step"].parse::<u64>().unwrap();
    let before = step(&avsl_model::checkpoint::read_checkpoint(&run.join("latest.safetensors")).unwrap());
    let mut resume = killed_args.clone();
    resume.push("--resume".into());
    let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
    let caught = std::cell::Cell::new(None);
    kill_when(&resume, |pid| checkpoint_in_progress(run, pid).map(|p| caught.set(Some(p))).is_some());
    let half_written = caught.take().expect("killed during a checkpoint write");
    assert!(half_written.exists(), "the kill came before the rename: {}", half_written.display());
    let survivor = avsl_model::checkpoint::read_checkpoint(&run.join("latest.safetensors")).unwrap();
    assert!(step(&survivor) >= before, "latest is a whole checkpoint, from before the kill");
    avsl(&resume);
    assert_eq!(losses(Path::new(&straight)), losses(Path::new(&killed)));
    let read = |run: &str| avsl_model::checkpoint::read_checkpoint(&Path::new(run).join("latest.safetensors")).unwrap();
    let (x, y) = (read(&straight), read(&killed));
    for (name, t) in x.weights.iter().chain(x.training.iter()) {
        let other = y.weights.get(name).or_else(|| y.training.get(name));
        assert_eq!(other, Some(t), "{name} differs after the kill and resume");
    }
    let tmp_left: Vec<_> = std::fs::read_dir(&killed)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(tmp_left.is_empty(), "temporary files left after the resume: {tmp_left:?}");
}

/// Runs avsl and sends it `signal` as soon as its log shows `steps` steps; its exit code.
fn signal_after(args: &[&str], log: &Path, steps: usize, signal: i32) -> Option<i32> {
    let mut child = running_until(args, |_| logged_steps(log) >= steps);
    // SAFETY: kill(2) on our own child, which has not been waited for, so its pid is live.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    child.wait().unwrap().code()
}

#[test]
fn ctrl_c_saves_the_step_in_hand_and_resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "12", "--test", "2", "--negatives", "1", "--seed", "5"]);
    // 3 steps per epoch, 2 epochs; checkpoints only at epoch ends, so what a signal saves
    // is the signal's doing.
    let args = |out: &str| -> Vec<String> {
        ["train", "--data", &p("data"), "--batch-size", "4", "--dim", "16", "--seed", "2", "--epochs", "2"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--checkpoint-every", "0", "--output", out].iter().map(|s| s.to_string()))
            .collect()
    };
    let (straight, stopped) = (p("straight"), p("stopped"));
    avsl(&args(&straight).iter().map(String::as_str).collect::<Vec<_>>());
    let stopped_args = args(&stopped);
    let stopped_args: Vec<&str> = stopped_args.iter().map(String::as_str).collect();
    let log = Path::new(&stopped).join("train_log.jsonl");
    // SIGINT after the first step: exit 130 and a checkpoint of the steps logged by then.
    assert_eq!(signal_after(&stopped_args, &log, 1, libc::SIGINT), Some(130));
    let saved = avsl_model::checkpoint::read_checkpoint(&Path::new(&stopped).join("latest.safetensors")).unwrap();
    let saved_step: usize = saved.metadata["step"].parse().unwrap();
    assert!(saved_step >= 1 && saved_step == logged_steps(&log), "saved at step {saved_step}");
    // Resumed, then SIGTERM after the fourth step (in the second epoch): exit 143.
    let mut resume = stopped_args.clone();
    resume.push("--resume");
    assert_eq!(signal_after(&resume, &log, 4, libc::SIGTERM), Some(143));
    avsl(&resume);
    assert_eq!(losses(Path::new(&straight)), losses(Path::new(&stopped)));
    let read = |run: &str| avsl_model::checkpoint::read_checkpoint(&Path::new(run).join("latest.safetensors")).unwrap();
    let (x, y) = (read(&straight), read(&stopped));
    for (name, t) in x.weights.iter().chain(x.training.iter()) {
        let other = y.weights.get(name).or_else(|| y.training.get(name));
        assert_eq!(other, Some(t), "{name} differs after the signals and resumes");
    }
}

#[test]
fn ezvsl_trains_and_its_checkpoint_evaluates_with_its_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "8", "--test", "4", "--negatives", "2", "--seed", "6"]);
    let console = avsl(&[
        "train",
        "--data",
        &p("data"),
        "--model",
        "ezvsl",
        "--batch-size",
        "4",
        "--dim",
        "16",
        "--epochs",
        "1",
        "--output",
        &p("run"),
    ]);
    assert!(console.contains("training ezvsl"), "{console}");
    let steps = losses(Path::new(&p("run")));
    assert_eq!(steps.len(), 2);
    assert!(steps.iter().all(|(_, l)| l.is_finite() && *l > 0.0), "{steps:?}");
    let checkpoint = Path::new(&p("run")).join("latest.safetensors");
    let console = avsl(&[
        "eval",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--data",
        &p("data"),
        "--testset",
        "vggss_plus_silent",
        "--output",
        &p("eval"),
    ]);
    assert!(console.contains("ezvsl (d = 16") && console.contains("EZ-VSL protocol"), "{console}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&p("eval")).join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["av"]["all"]["n"], 6);
}

#[test]
fn supervised_ids_add_the_semi_supervised_loss() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "8", "--test", "2", "--negatives", "0", "--seed", "2"]);
    // Six of the eight training scenes are supervised by their boxes (metadata/vggss.json),
    // so every batch of four holds at least two.
    let train: Vec<String> = std::fs::read_to_string(dir.path().join("data/metadata/train.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    std::fs::write(dir.path().join("sup.txt"), train[..6].join("\n")).unwrap();
    let data = p("data");
    let run = |out: &str, sup: Option<&str>| {
        let mut args = vec!["train", "--data", &data, "--batch-size", "4", "--dim", "16", "--width", "8"];
        args.extend(["--epochs", "1", "--seed", "1", "--output", out]);
        if let Some(s) = sup {
            args.extend(["--sup-list", s]);
        }
        avsl(&args)
    };
    let console = run(&p("semi"), Some(&p("sup.txt")));
    assert!(console.contains("6 of the training ids have boxes"), "{console}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("semi/train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("loss").is_some())
        .collect();
    assert_eq!(lines.len(), 2);
    let semi: Vec<f64> = lines.iter().filter_map(|v| v.get("semi_loss")?.as_f64()).collect();
    // Each supervised sample's squared error sums 49 cells of at most 1.
    assert!(semi.len() == 2 && semi.iter().all(|s| *s > 0.0 && *s <= 49.0), "{lines:?}");
    // The same run without supervision: its first loss (before any update) is smaller by
    // exactly the semi term.
    run(&p("plain"), None);
    let plain = losses(Path::new(&p("plain")));
    let total = lines[0]["loss"].as_f64().unwrap();
    assert!((total - plain[0].1 - semi[0]).abs() < 1e-5 * total, "{total} vs {} + {}", plain[0].1, semi[0]);

    // A supervised id outside the training list is refused.
    std::fs::write(dir.path().join("stray.txt"), "synth_test_000000\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_avsl"))
        .args(["train", "--data", &p("data"), "--sup-list", &p("stray.txt"), "--output", &p("stray")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the training list"));
}

#[test]
fn training_lowers_the_loss_on_a_tiny_set() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "16", "--test", "2", "--negatives", "0", "--seed", "4"]);
    avsl(&[
        "train",
        "--data",
        &p("data"),
        "--model",
        "ezvsl",
        "--batch-size",
        "8",
        "--dim",
        "16",
        "--width",
        "8",
        "--lr",
        "1e-3",
        "--epochs",
        "30",
        "--seed",
        "2",
        "--output",
        &p("run"),
    ]);
    let steps: Vec<f64> = losses(Path::new(&p("run"))).into_iter().map(|(_, l)| l).collect();
    assert_eq!(steps.len(), 60);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&steps[..10]), mean(&steps[50..]));
    assert!(last < first - 0.5, "mean loss of the first 10 steps {first}, of the last 10 {last}");
}

/// `--device cpu,cpu`: two data-parallel replicas on the CPU backend (the same code as
/// on several GPUs), each its half of the batch; a run resumed after one epoch writes the
/// same losses and weights as an uninterrupted one. SSL-align trains on them too.
#[test]
fn data_parallel_training_on_two_cpu_replicas_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "8", "--test", "4", "--seed", "4"]);
    let data = p("data");
    let run = |out: &str, extra: &[&str]| {
        let mut args =
            vec!["train", "--data", &data, "--batch-size", "4", "--dim", "16", "--width", "8", "--device", "cpu,cpu"];
        args.extend(["--threads", "2", "--seed", "2", "--output", out]);
        args.extend_from_slice(extra);
        avsl(&args)
    };
    let (straight, split) = (p("straight"), p("split"));
    run(&straight, &["--epochs", "2"]);
    run(&split, &["--epochs", "1"]);
    run(&split, &["--resume", "--epochs", "2"]);
    let (a, b) = (losses(Path::new(&straight)), losses(Path::new(&split)));
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|(_, l)| l.is_finite()), "{a:?}");
    assert_eq!(a, b, "step losses of the resumed run");
    let read = |run: &str| avsl_model::checkpoint::read_checkpoint(&Path::new(run).join("latest.safetensors")).unwrap();
    let (x, y) = (read(&straight), read(&split));
    for (name, t) in x.weights.iter().chain(x.training.iter()) {
        let other = y.weights.get(name).or_else(|| y.training.get(name));
        assert_eq!(other, Some(t), "{name} differs between the runs");
    }
    // SSL-align (three views a sample, each replica its samples of every view, neighbours
    // mined before the first epoch) runs through the same replicas.
    std::fs::write(p("align.toml"), "model = \"ssl-align\"\nneighbours_k = 3\nwidth = 8\ndim = 16\n").unwrap();
    let align = p("align");
    let config = p("align.toml");
    let args = ["--config", &config, "--batch-size", "4", "--device", "cpu,cpu", "--epochs", "1", "--output", &align];
    avsl(&[&["train", "--data", &data, "--threads", "2", "--seed", "2"][..], &args].concat());
    let steps = losses(Path::new(&align));
    assert_eq!(steps.len(), 2);
    assert!(steps.iter().all(|(_, l)| l.is_finite() && *l > 0.0), "{steps:?}");
}

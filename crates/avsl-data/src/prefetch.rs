//! Loading ahead of the consumer: items are decoded in batches on a pool of worker
//! threads while the calling thread consumes the previous batch (a model's forward pass),
//! in order, through a bounded queue.

use rayon::prelude::*;

/// Calls `consume(indices, items)` for the batches `0..n` in order; the items of each
/// batch are produced by `load` on `threads` workers while earlier batches are consumed.
/// The first error of either side stops the work and is returned.
pub fn for_each_batch<T: Send, E: Send>(
    n: usize,
    batch_size: usize,
    threads: usize,
    load: impl Fn(usize) -> Result<T, E> + Sync,
    mut consume: impl FnMut(Vec<usize>, Vec<T>) -> Result<(), E>,
) -> Result<(), E> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("avsl-prefetch-{i}"))
        .build()
        .expect("a thread pool with at least one thread");
    let (tx, rx) = crossbeam_channel::bounded::<Result<(Vec<usize>, Vec<T>), E>>(2);
    let load = &load;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let batches: Vec<Vec<usize>> =
                (0..n).collect::<Vec<_>>().chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect();
            for indices in batches {
                let items: Result<Vec<T>, E> = pool.install(|| indices.par_iter().map(|&i| load(i)).collect());
                let failed = items.is_err();
                // A closed queue means the consumer stopped: stop too.
                if tx.send(items.map(|items| (indices, items))).is_err() || failed {
                    break;
                }
            }
        });
        let rx = rx;
        let result = rx.iter().try_for_each(|batch| {
            let (indices, items) = batch?;
            consume(indices, items)
        });
        // Closing the queue unblocks a producer waiting to hand over the next batch.
        drop(rx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_arrive_in_order_and_errors_stop_the_work() {
        let mut seen = Vec::new();
        for_each_batch(
            10,
            3,
            2,
            |i| Ok::<usize, String>(i * i),
            |idx, items| {
                seen.push((idx, items));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[3], (vec![9], vec![81]));
        let flat: Vec<usize> = seen.iter().flat_map(|(_, v)| v.clone()).collect();
        assert_eq!(flat, (0..10).map(|i| i * i).collect::<Vec<_>>());

        let mut consumed = 0;
        let e = for_each_batch(
            10,
            2,
            2,
            |i| if i == 5 { Err(format!("item {i} is bad")) } else { Ok(i) },
            |_, _| {
                consumed += 1;
                Ok(())
            },
        );
        assert_eq!(e, Err("item 5 is bad".to_string()));
        assert_eq!(consumed, 2);
        let e = for_each_batch(10, 2, 2, Ok::<usize, String>, |_, _| Err("consumer failed".to_string()));
        assert_eq!(e, Err("consumer failed".to_string()));
    }
}

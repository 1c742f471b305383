//! Per-thread buffers that kernels reuse between calls, so that their large temporary
//! matrices are not mapped and cleared again for every layer.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread's buffer (declare one with `thread_local!` per use, so uses do not collide).
pub(crate) type Buffer = RefCell<Vec<f32>>;

/// Runs `f` on the first `len` values of this thread's buffer `key`, grown as needed (its
/// values are whatever an earlier call left). A thread waiting inside a parallel section
/// may run another task that wants the same buffer: that task gets one of its own.
pub(crate) fn with_buffer<R>(key: &'static LocalKey<Buffer>, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    key.with(|cell| {
        let mut own = Vec::new();
        let mut taken = cell.try_borrow_mut();
        let buffer = match taken.as_deref_mut() {
            Ok(buffer) => buffer,
            Err(_) => &mut own,
        };
        if buffer.len() < len {
            buffer.resize(len, 0.0);
        }
        f(&mut buffer[..len])
    })
}

//! Values on their way back from the device, in a form that does not wait for them. On the CPU
//! they are there at the first poll; in a browser a GPU read completes only between frames, so
//! nothing there may wait for one.

use std::pin::Pin;

use futures_lite::future::block_on;

/// A read of values from the device.
pub(crate) type DeviceRead<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

/// Values already on the host, as a read that is done at its first poll.
pub(crate) fn ready<T: Send + 'static>(values: T) -> DeviceRead<T> {
    Box::pin(std::future::ready(Ok(values)))
}

/// A read from the device, then what it brought back.
pub(crate) enum Reading<T> {
    Pending(DeviceRead<T>),
    Done(Result<T, String>),
}

impl<T> Reading<T> {
    /// Whether the values are back: waits for them, except in a browser, which cannot.
    pub(crate) fn poll(&mut self) -> bool {
        if let Self::Pending(read) = self {
            #[cfg(not(target_arch = "wasm32"))]
            let done = Some(block_on(read));
            #[cfg(target_arch = "wasm32")]
            let done = block_on(futures_lite::future::poll_once(read));
            match done {
                Some(values) => *self = Self::Done(values),
                None => return false,
            }
        }
        true
    }

    /// The values, once [`Reading::poll`] has said they are back.
    pub(crate) fn take(self) -> Result<T, String> {
        match self {
            Self::Done(values) => values,
            Self::Pending(_) => Err("the read is not back yet".into()),
        }
    }
}

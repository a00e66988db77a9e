//! Turns at the CPU for the training threads of several spheres: one CPU-trained network
//! computes its chunk of steps at a time, in the order the threads asked. A closed step already
//! spreads over every core, so networks that computed at once would only take cores from each
//! other and from the renderer; in turns, three spheres train as fast in sum as one does.

use std::sync::{Condvar, Mutex, PoisonError};

/// The next ticket to hand out, and the ticket whose turn it is.
static TICKETS: Mutex<(u64, u64)> = Mutex::new((0, 0));
static NEXT_TURN: Condvar = Condvar::new();

/// The CPU is this thread's until the turn is dropped.
pub(crate) struct CpuTurn(());

/// Waits for this thread's turn at the CPU, after every thread that asked before it.
pub(crate) fn take_turn() -> CpuTurn {
    let mut tickets = TICKETS.lock().unwrap_or_else(PoisonError::into_inner);
    let ticket = tickets.0;
    tickets.0 += 1;
    while tickets.1 != ticket {
        tickets = NEXT_TURN
            .wait(tickets)
            .unwrap_or_else(PoisonError::into_inner);
    }
    CpuTurn(())
}

impl Drop for CpuTurn {
    fn drop(&mut self) {
        TICKETS.lock().unwrap_or_else(PoisonError::into_inner).1 += 1;
        NEXT_TURN.notify_all();
    }
}

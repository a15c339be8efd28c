//! A plan writer on a thread of its own: planning hands over subjects and steps in batches and goes
//! on deciding, while the thread serializes, hashes and writes them. When most subjects match,
//! writing the plan costs about as much as deciding it, so the two run side by side.

use std::fs::File;
use std::io;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::stream::PlanWriter;
use super::{PlannedSubject, Step};

/// Items handed over at once (fewer wake-ups), and batches in flight before planning waits for the
/// writer (bounded memory: at most this many batches of this many items).
const BATCH: usize = 256;
const IN_FLIGHT: usize = 16;

enum Item {
    Subject(PlannedSubject),
    Step(Box<Step>),
}

/// A [`PlanWriter`] fed from another thread. See the module documentation.
pub struct BackgroundWriter {
    tx: SyncSender<Vec<Item>>,
    /// Written batches, sent back to be dropped (and their space reused) on the thread that
    /// allocated them, which is where an allocator frees memory most cheaply.
    done: Receiver<Vec<Item>>,
    batch: Vec<Item>,
    handle: JoinHandle<io::Result<PlanWriter<File>>>,
}

impl BackgroundWriter {
    pub fn start(mut writer: PlanWriter<File>) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<Vec<Item>>(IN_FLIGHT);
        let (done_tx, done) = channel::<Vec<Item>>();
        let handle = std::thread::Builder::new()
            .name("plan-writer".into())
            .spawn(move || {
                for batch in rx {
                    for item in &batch {
                        match item {
                            Item::Subject(s) => writer.subject(s)?,
                            Item::Step(s) => writer.step(s)?,
                        }
                    }
                    // Fails only once planning has finished; the batch is dropped here then.
                    drop(done_tx.send(batch));
                }
                Ok(writer)
            })?;
        Ok(BackgroundWriter {
            tx,
            done,
            batch: Vec::with_capacity(BATCH),
            handle,
        })
    }

    pub fn subject(&mut self, s: PlannedSubject) -> io::Result<()> {
        self.push(Item::Subject(s))
    }

    pub fn step(&mut self, s: Step) -> io::Result<()> {
        self.push(Item::Step(Box::new(s)))
    }

    fn push(&mut self, item: Item) -> io::Result<()> {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.send()?;
        }
        Ok(())
    }

    /// Hands the batch over. It fails only when the thread has stopped on a write error, which
    /// [`BackgroundWriter::finish`] then returns.
    fn send(&mut self) -> io::Result<()> {
        let next = match self.done.try_recv() {
            Ok(mut written) => {
                written.clear();
                written
            }
            Err(_) => Vec::with_capacity(BATCH),
        };
        let batch = std::mem::replace(&mut self.batch, next);
        self.tx
            .send(batch)
            .map_err(|_| io::Error::other("the plan writer stopped"))
    }

    /// Hands over what is left and waits for the thread: the writer, or the first write error.
    pub fn finish(mut self) -> io::Result<PlanWriter<File>> {
        let sent = if self.batch.is_empty() {
            Ok(())
        } else {
            self.send()
        };
        drop(self.tx);
        let written = self
            .handle
            .join()
            .map_err(|_| io::Error::other("the plan writer thread panicked"))?;
        // The thread's own error says what went wrong; a failed hand-over only says it stopped.
        let writer = written?;
        sent.map(|()| writer)
    }
}

//! The engine on a real RocksDB metadata store, with several workers sharing it and
//! workers killed (their runtime dropped, every task with it) mid-job.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hafiz_jobs::{
    Backoff, Engine, EngineConfig, Handler, JobContext, JobFailure, JobQuery, JobSpec, JobState,
    KindLimits, Sealer,
};
use hafiz_meta::jobs::JobCommand;
use hafiz_meta::{Command, MetaStore, Metadata};
use tokio::sync::watch;

fn config(node: &str) -> EngineConfig {
    EngineConfig {
        node: node.into(),
        poll: Duration::from_millis(40),
        lease: Duration::from_millis(900),
        max_concurrency: 8,
        starts_per_sec: 10_000,
    }
}

fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

/// Which worker runs which job right now, and what each job did.
#[derive(Default)]
struct Ledger {
    active: HashMap<String, String>,
    overlaps: Vec<String>,
    succeeded: HashMap<String, u32>,
    attempts: HashMap<String, Vec<Instant>>,
}

struct Flaky {
    worker: String,
    ledger: Arc<Mutex<Ledger>>,
}

#[async_trait]
impl Handler for Flaky {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        {
            let mut l = self.ledger.lock().unwrap();
            if let Some(other) = l.active.insert(job.id.clone(), self.worker.clone()) {
                l.overlaps
                    .push(format!("{} on {} and {}", job.id, other, self.worker));
            }
            l.attempts
                .entry(job.id.clone())
                .or_default()
                .push(Instant::now());
        }
        let ms = 5 + rand::random::<u64>() % 60;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let fail = rand::random::<u8>().is_multiple_of(5);
        let mut l = self.ledger.lock().unwrap();
        l.active.remove(&job.id);
        if fail {
            return Err(JobFailure::Retry("transient".into()));
        }
        *l.succeeded.entry(job.id.clone()).or_default() += 1;
        Ok(Some(format!("{{\"worker\":\"{}\"}}", self.worker)))
    }
}

/// A worker on its own runtime: dropping it kills every task it runs, as SIGKILL
/// would kill a process.
struct Worker {
    name: String,
    rt: Option<tokio::runtime::Runtime>,
    _stop: watch::Sender<bool>,
}

fn start_worker(meta: Arc<dyn Metadata>, node: &str, ledger: Arc<Mutex<Ledger>>) -> Worker {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(meta, config(node), Sealer::from_secret(b"k"), || true);
    let name = engine.worker().to_string();
    engine.register(
        "flaky",
        Arc::new(Flaky {
            worker: name.clone(),
            ledger,
        }),
        KindLimits {
            concurrency: 4,
            leader_only: false,
            backoff: fast_backoff(),
        },
    );
    let (tx, rx) = watch::channel(false);
    rt.spawn(engine.run(rx));
    Worker {
        name,
        rt: Some(rt),
        _stop: tx,
    }
}

impl Worker {
    fn kill(mut self, ledger: &Mutex<Ledger>) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        // Its attempts died with it: they no longer hold anything.
        ledger.lock().unwrap().active.retain(|_, w| *w != self.name);
    }
}

fn open_store(dir: &std::path::Path) -> Arc<dyn Metadata> {
    Arc::new(MetaStore::open(dir).unwrap())
}

#[test]
fn no_job_lost_or_run_twice_at_once_while_workers_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let meta = open_store(dir.path());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let control = tokio::runtime::Runtime::new().unwrap();

    let producer = Engine::new(
        meta.clone(),
        config("producer"),
        Sealer::from_secret(b"k"),
        || true,
    );
    let specs: Vec<JobSpec> = (0..300)
        .map(|i| {
            JobSpec::new("flaky", &i)
                .max_attempts(50)
                .timeout(Duration::from_secs(5))
        })
        .collect();
    let jobs = control.block_on(producer.enqueue_all(specs)).unwrap();
    assert_eq!(jobs.len(), 300);

    let mut workers: Vec<Worker> = (0..3)
        .map(|i| start_worker(meta.clone(), &format!("w{i}"), ledger.clone()))
        .collect();
    let started = Instant::now();
    let mut kills = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let done = ledger.lock().unwrap().succeeded.len();
        if done == 300 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {done} of 300 jobs succeeded"
        );
        // Kill a worker now and then (never the last two at once) and start another:
        // the first three kills on the first rounds, so a fast machine that finishes
        // the 300 jobs in a second still sees workers die mid-run.
        if kills < 3 || (kills < 8 && rand::random::<u8>().is_multiple_of(2)) {
            let victim = workers.remove(rand::random::<usize>() % workers.len());
            victim.kill(&ledger);
            kills += 1;
            workers.push(start_worker(
                meta.clone(),
                &format!("r{kills}"),
                ledger.clone(),
            ));
        }
    }
    let l = ledger.lock().unwrap();
    assert!(l.overlaps.is_empty(), "ran twice at once: {:?}", l.overlaps);
    assert!(kills >= 3, "the test must kill workers ({kills})");
    // Every job finished exactly once as far as the store knows...
    let all = control
        .block_on(meta.jobs(JobQuery {
            limit: 1000,
            ..Default::default()
        }))
        .unwrap();
    let succeeded = all
        .iter()
        .filter(|j| j.state == JobState::Succeeded)
        .count();
    // ... possibly after an attempt was cut short by a kill; a kill between the
    // handler's end and the Complete command runs it again (at least once).
    for _ in 0..100 {
        let all = control
            .block_on(meta.jobs(JobQuery {
                limit: 1000,
                ..Default::default()
            }))
            .unwrap();
        if all.iter().all(|j| j.state == JobState::Succeeded) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = control
        .block_on(meta.jobs(JobQuery {
            limit: 1000,
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(all.len(), 300);
    let states: HashSet<JobState> = all.iter().map(|j| j.state).collect();
    assert_eq!(
        states,
        HashSet::from([JobState::Succeeded]),
        "{succeeded} succeeded"
    );
    assert!(
        all.iter()
            .all(|j| j.result.as_deref().is_some_and(|r| r.contains("worker")))
    );
    // Retries happened (one attempt in five fails) and were recorded.
    assert!(all.iter().any(|j| j.attempts > 1));
    let counts = control.block_on(meta.job_counts()).unwrap();
    assert_eq!(
        counts.get(&("flaky".to_string(), JobState::Succeeded)),
        Some(&300)
    );
    assert_eq!(counts.len(), 1, "{counts:?}");
    drop(l);
    for w in workers {
        w.kill(&ledger);
    }
}

struct AlwaysFails(Arc<Mutex<Vec<Instant>>>);

#[async_trait]
impl Handler for AlwaysFails {
    async fn run(&self, _job: JobContext) -> Result<Option<String>, JobFailure> {
        self.0.lock().unwrap().push(Instant::now());
        Err(JobFailure::Retry("target down".into()))
    }
}

/// (job name, "start" or "end", when).
type StepLog = Arc<Mutex<Vec<(String, &'static str, Instant)>>>;

struct Recorder {
    log: StepLog,
    fail_payload: &'static [u8],
}

#[async_trait]
impl Handler for Recorder {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        let name = String::from_utf8_lossy(&job.payload).into_owned();
        self.log
            .lock()
            .unwrap()
            .push((name.clone(), "start", Instant::now()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.log.lock().unwrap().push((name, "end", Instant::now()));
        if job.payload == self.fail_payload {
            return Err(JobFailure::Permanent("bad input".into()));
        }
        Ok(None)
    }
}

async fn wait_state(meta: &Arc<dyn Metadata>, id: &str, state: JobState) -> hafiz_jobs::Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let j = meta.job(id).await.unwrap().unwrap();
        if j.state == state {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} stuck in {:?}", j.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_grows_then_dead_letter_then_operator_retry() {
    let dir = tempfile::tempdir().unwrap();
    let meta = open_store(dir.path());
    let engine = Engine::new(
        meta.clone(),
        config("n1"),
        Sealer::from_secret(b"k"),
        || true,
    );
    let times = Arc::new(Mutex::new(Vec::new()));
    engine.register(
        "down",
        Arc::new(AlwaysFails(times.clone())),
        KindLimits {
            concurrency: 1,
            leader_only: false,
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(5),
            },
        },
    );
    let (_tx, rx) = watch::channel(false);
    tokio::spawn(engine.clone().run(rx));
    let job = engine
        .enqueue(JobSpec::new("down", &"x").max_attempts(4))
        .await
        .unwrap()
        .unwrap();
    let dead = wait_state(&meta, &job.id, JobState::Dead).await;
    assert_eq!(dead.attempts, 4);
    assert_eq!(dead.last_error.as_deref(), Some("target down"));
    let t = times.lock().unwrap().clone();
    assert_eq!(t.len(), 4);
    // Attempt n waits at least half of base * 2^(n-1): 100, 200, 400 ms.
    for (i, w) in t.windows(2).enumerate() {
        let gap = w[1] - w[0];
        let floor = Duration::from_millis(100 << i);
        assert!(gap >= floor, "gap {i} was {gap:?}, want >= {floor:?}");
    }
    // Dead letters wait for an operator: nothing runs them again...
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(times.lock().unwrap().len(), 4);
    // ... until a retry, with fresh attempts.
    meta.apply(Command::Jobs(JobCommand::Retry {
        id: job.id.clone(),
        now: hafiz_jobs::now_millis(),
    }))
    .await
    .unwrap();
    let dead = wait_state(&meta, &job.id, JobState::Dead).await;
    assert_eq!(dead.attempts, 4);
    assert_eq!(times.lock().unwrap().len(), 8);
    // Retrying a job that is not failed, dead or cancelled is refused.
    let ok = engine
        .enqueue(JobSpec::new("never-registered", &"y"))
        .await
        .unwrap()
        .unwrap();
    let err = meta
        .apply(Command::Jobs(JobCommand::Retry {
            id: ok.id.clone(),
            now: hafiz_jobs::now_millis(),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(err, hafiz_meta::MetaError::JobConflict(_)),
        "{err}"
    );
    // Cancel, then purge the finished ones.
    meta.apply(Command::Jobs(JobCommand::Cancel {
        id: ok.id.clone(),
        now: hafiz_jobs::now_millis(),
    }))
    .await
    .unwrap();
    let out = meta
        .apply(Command::Jobs(JobCommand::Purge {
            states: vec![],
            kind: None,
            before: hafiz_jobs::now_millis() + 1,
            max: 100,
        }))
        .await
        .unwrap();
    assert_eq!(out.jobs.len(), 2);
    assert!(meta.job(&ok.id).await.unwrap().is_none());
    assert!(meta.job_counts().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_order_a_workflow_and_a_failed_dependency_kills_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let meta = open_store(dir.path());
    let engine = Engine::new(
        meta.clone(),
        config("n1"),
        Sealer::from_secret(b"k"),
        || true,
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    engine.register(
        "step",
        Arc::new(Recorder {
            log: log.clone(),
            fail_payload: b"bad",
        }),
        KindLimits {
            concurrency: 8,
            ..Default::default()
        },
    );
    let raw = |s: &str| {
        let mut spec = JobSpec::new("step", &());
        spec.payload = s.as_bytes().to_vec();
        spec
    };
    // a -> (b, c) -> d, and bad -> never.
    let a = engine.enqueue(raw("a")).await.unwrap().unwrap();
    let b = engine
        .enqueue(raw("b").after([a.id.clone()]))
        .await
        .unwrap()
        .unwrap();
    let c = engine
        .enqueue(raw("c").after([a.id.clone()]))
        .await
        .unwrap()
        .unwrap();
    let d = engine
        .enqueue(raw("d").after([b.id.clone(), c.id.clone()]))
        .await
        .unwrap()
        .unwrap();
    let bad = engine.enqueue(raw("bad")).await.unwrap().unwrap();
    let never = engine
        .enqueue(raw("never").after([bad.id.clone()]))
        .await
        .unwrap()
        .unwrap();
    let (_tx, rx) = watch::channel(false);
    tokio::spawn(engine.clone().run(rx));
    wait_state(&meta, &d.id, JobState::Succeeded).await;
    let dead = wait_state(&meta, &never.id, JobState::Dead).await;
    assert_eq!(dead.attempts, 0, "a dependent of a dead job never runs");
    assert_eq!(
        meta.job(&bad.id).await.unwrap().unwrap().attempts,
        1,
        "permanent: no retry"
    );
    let log = log.lock().unwrap().clone();
    let at = |name: &str, what: &str| {
        log.iter()
            .find(|(n, w, _)| n == name && *w == what)
            .map(|(_, _, t)| *t)
            .unwrap_or_else(|| panic!("{name} {what} missing"))
    };
    assert!(at("b", "start") >= at("a", "end"));
    assert!(at("c", "start") >= at("a", "end"));
    assert!(at("d", "start") >= at("b", "end").max(at("c", "end")));
    assert!(!log.iter().any(|(n, _, _)| n == "never"));
}

struct Count(Arc<Mutex<Vec<Vec<u8>>>>);

#[async_trait]
impl Handler for Count {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure> {
        self.0.lock().unwrap().push(job.payload);
        Ok(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_run_once_per_tick_across_engines_and_sealed_payloads_stay_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let meta = open_store(dir.path());
    let runs = Arc::new(Mutex::new(Vec::new()));
    let mut stops = Vec::new();
    let mut engines = Vec::new();
    // Two engines that both believe they lead (a leadership change in flight):
    // the tick command still lets one run per tick through.
    for n in ["a", "b"] {
        let e = Engine::new(
            meta.clone(),
            config(n),
            Sealer::from_secret(b"cluster key"),
            || true,
        );
        e.register("tick", Arc::new(Count(runs.clone())), KindLimits::default());
        let (tx, rx) = watch::channel(false);
        tokio::spawn(e.clone().run(rx));
        stops.push(tx);
        engines.push(e);
    }
    engines[0]
        .put_schedule("every-300ms", "every 300ms", "tick", &"scheduled")
        .await
        .unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let elapsed = t0.elapsed().as_millis() as usize;
    let n = runs.lock().unwrap().len();
    let ticks = elapsed / 300;
    assert!(
        n >= ticks.saturating_sub(2) && n <= ticks + 1,
        "{n} runs in {elapsed} ms"
    );
    assert!(
        engines[0]
            .put_schedule("bad", "every 5y", "tick", &())
            .await
            .is_err()
    );

    // A sensitive payload: sealed in the row, plain for the handler.
    let job = engines[1]
        .enqueue(JobSpec::new("tick", &"customer-secret-key-name").sensitive())
        .await
        .unwrap()
        .unwrap();
    let done = wait_state(&meta, &job.id, JobState::Succeeded).await;
    assert!(done.sealed);
    assert!(!String::from_utf8_lossy(&done.payload).contains("customer-secret"));
    assert!(!format!("{done:?}").contains("customer-secret"));
    assert!(
        runs.lock()
            .unwrap()
            .iter()
            .any(|p| p == b"\"customer-secret-key-name\"")
    );
    for e in &engines {
        assert!(e.healthy());
    }
}
